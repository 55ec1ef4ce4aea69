import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate, type KeySpec } from './pki.js';

const notBefore = new Date('2025-01-01T00:00:00Z');
const notAfter = new Date('2035-01-01T00:00:00Z');

test('issues a root, an intermediate and leaves that chain and match their keys', async () => {
  const root = await issueCertificate({ subject: 'CN=Test Root,O=Example', keySpec: 'ec-p384', notBefore, notAfter, isCa: true });
  const inter = await issueCertificate(
    { subject: 'CN=Test Intermediate,O=Example', keySpec: 'rsa-2048', notBefore, notAfter, isCa: true, pathLength: 0 },
    root,
  );
  assert.ok(root.cert.ca && inter.cert.ca);
  assert.ok(inter.cert.checkIssued(root.cert) && inter.cert.verify(root.cert.publicKey));
  for (const spec of ['rsa-2048', 'ec-p256', 'ec-p384', 'ec-p521'] as KeySpec[]) {
    const leaf = await issueCertificate(
      { subject: `CN=leaf-${spec}`, keySpec: spec, notBefore, notAfter, serialHex: '00f1e2d3c4b5a6978877665544332211aa' },
      inter,
    );
    assert.equal(leaf.cert.ca, false);
    assert.ok(leaf.cert.checkIssued(inter.cert), spec);
    assert.ok(leaf.cert.verify(inter.cert.publicKey), spec);
    assert.ok(leaf.cert.checkPrivateKey(leaf.key), spec);
    assert.equal(leaf.cert.serialNumber.replace(/^00/, '').toLowerCase(), 'f1e2d3c4b5a6978877665544332211aa');
  }
});
