import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expectError } from '../../test/fixtures/identity/make.js';
import { MAX_CA_BUNDLE_BLOCKS, parseCaBundle } from './ca-bundle.js';

const CERTS_EXAMPLE = fileURLToPath(new URL('../../../certs-example/', import.meta.url));
const root = readFileSync(`${CERTS_EXAMPLE}root-ca.pem`, 'utf8');
const intermediate = readFileSync(`${CERTS_EXAMPLE}intermediate-ca.pem`, 'utf8');

test('every CERTIFICATE block is returned in order; comments and other block types are passed over', () => {
  const key = readFileSync(`${CERTS_EXAMPLE}leaf-ec.key`, 'utf8');
  const certs = parseCaBundle(`# Issuer: CN=Example\n${root}\nsubject=CN=x\n${key}${intermediate}`);
  assert.deepEqual(
    certs.map((c) => c.fingerprint256),
    [new X509Certificate(root).fingerprint256, new X509Certificate(intermediate).fingerprint256],
  );
});

test('a damaged block is an error naming the source, never skipped', () => {
  const lines = root.trimEnd().split('\n');
  // A body line lost in the middle: the base64 no longer has a valid length.
  const truncatedBody = [...lines.slice(0, 3), ...lines.slice(4)].join('\n');
  expectError(() => parseCaBundle(`${intermediate}${truncatedBody}\n`, 'ca.pem'), { code: 'PEM_INVALID', mentions: ['ca.pem'] });
  // The END line missing: the old regex readers silently dropped this block.
  expectError(() => parseCaBundle(`${lines.slice(0, -1).join('\n')}\n${intermediate}`, 'ca.pem'), { code: 'PEM_INVALID', mentions: ['ca.pem', 'END'] });
  // Well-formed PEM whose content is not a certificate.
  expectError(() => parseCaBundle(`${intermediate}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`, 'ca.pem'), {
    code: 'PEM_INVALID',
    mentions: ['certificate #2', 'ca.pem'],
  });
});

test('a bundle of more blocks than any CA bundle holds is refused before parsing them', () => {
  const block = '-----BEGIN X-----\nAAAA\n-----END X-----\n';
  expectError(() => parseCaBundle(`${root}${block.repeat(MAX_CA_BUNDLE_BLOCKS)}`), { code: 'PEM_INVALID', mentions: [`more than ${MAX_CA_BUNDLE_BLOCKS}`] });
});
