/**
 * Fuzz tests for the new hardware-key inputs: PKCS#11 URIs (command line, environment) and
 * TSS2 PEM key files. Whatever the bytes, the parsers return a value or throw CONFIG_INVALID
 * (never another error, never hang), a URI's description never contains its PIN, and a
 * well-formed URI round-trips through its description.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SidecarError } from '../../src/core/errors.js';
import { describePkcs11Uri, parsePkcs11Uri } from '../../src/identity/pkcs11/uri.js';
import { isTss2Pem, parseTpmHandle, tss2EmptyAuth } from '../../src/identity/tpm/key-ref.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();

const attr = fc.constantFrom(
  'token',
  'object',
  'id',
  'type',
  'serial',
  'model',
  'manufacturer',
  'slot-id',
  'pin-value',
  'pin-source',
  'bogus',
  'x-v',
  'library-version',
);
const value = fc.oneof(fc.string({ maxLength: 20 }), fc.stringMatching(/^(%[0-9a-f]{2})+$/), fc.constantFrom('cert', 'private', '7', '%', '%g1', ''));

describe('PKCS#11 URIs', () => {
  test('any input: a parsed URI or CONFIG_INVALID', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc
            .array(fc.tuple(attr, value, fc.boolean()), { maxLength: 8 })
            .map((parts) => `pkcs11:${parts.map(([a, v, q]) => `${q ? '?' : ';'}${a}=${v}`).join('')}`),
        ),
        (s) => {
          try {
            parsePkcs11Uri(s);
          } catch (e) {
            assert.ok(e instanceof SidecarError && e.code === 'CONFIG_INVALID', String(e));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('well-formed URIs round-trip through their description, and the PIN never shows', () => {
    const text = fc.string({ minLength: 1, maxLength: 16 });
    fc.assert(
      fc.property(
        text,
        text,
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc.string({ minLength: 4, maxLength: 12 }).filter((p) => /^[A-Za-z0-9]+$/.test(p)),
        (token, object, id, pin) => {
          const uri = `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(object)};id=${[...id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}?pin-value=${pin}`;
          const u = parsePkcs11Uri(uri);
          assert.equal(u.token, token);
          assert.equal(u.object, object);
          assert.deepEqual([...u.id!], [...id]);
          const d = describePkcs11Uri(u);
          assert.ok(!d.includes(`pin-value=${pin}`));
          const again = parsePkcs11Uri(d.replace('?pin-value=(hidden)', ''));
          assert.equal(again.token, token);
          assert.equal(again.object, object);
          assert.deepEqual([...again.id!], [...id]);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('TSS2 PEM keys and TPM handles', () => {
  test('any bytes: a boolean or undefined, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, wrap) => {
        const data = wrap
          ? Buffer.from(`-----BEGIN TSS2 PRIVATE KEY-----\n${Buffer.from(bytes).toString('base64')}\n-----END TSS2 PRIVATE KEY-----\n`)
          : Buffer.from(bytes);
        const r = tss2EmptyAuth(data);
        assert.ok(r === undefined || typeof r === 'boolean');
        assert.equal(typeof isTss2Pem(data), 'boolean');
      }),
      { numRuns: 3000 },
    );
  });

  test('any handle string: a persistent handle, undefined, or CONFIG_INVALID', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^handle:0x[0-9a-fA-F]{1,9}$/)), (s) => {
        try {
          const h = parseTpmHandle(s);
          assert.ok(h === undefined || (h >= 0x81000000 && h <= 0x81ffffff));
        } catch (e) {
          assert.ok(e instanceof SidecarError && e.code === 'CONFIG_INVALID');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
