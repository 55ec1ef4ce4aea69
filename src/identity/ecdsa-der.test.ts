import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { p1363ToDer } from './ecdsa-der.js';

test('r||s from every curve converts to the DER form Node verifies and produces', () => {
  for (const namedCurve of ['P-256', 'P-384', 'P-521']) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
    for (let i = 0; i < 40; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const der = p1363ToDer(raw);
      assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, der), namedCurve);
      // The same signature back in r||s form: DER was minimal and lossless.
      assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw));
    }
  }
});

test('leading zero bytes are dropped and a high bit gets its 0x00, as DER requires', () => {
  const raw = Buffer.concat([Buffer.alloc(31, 0), Buffer.from([0x01]), Buffer.from([0x80]), Buffer.alloc(31, 0xff)]);
  assert.equal(p1363ToDer(raw).toString('hex'), `3026020101022100${'80'}${'ff'.repeat(31)}`);
});

test('odd lengths and oversized values are refused', () => {
  for (const n of [0, 63, 134]) assert.throws(() => p1363ToDer(Buffer.alloc(n, 1)), { code: 'SIGNING_FAILED' });
});
