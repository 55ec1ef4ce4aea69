import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { assertNotCa, checkValidity, expiresSoon, isSelfSigned, orderChain, parseCertificates, serialToDecimal } from './certificate.js';
import type { IssuedCertificate } from '../emulator/pki.js';
import { expectError, leaf, makePki, NOW_MS, openssl, tempDir, write, read, type Pki } from '../../test/fixtures/identity/make.js';

const { dir, cleanup } = tempDir();
after(cleanup);
let pki: Pki;
let inter2: IssuedCertificate; // a second intermediate level: root -> inter -> inter2 -> deep
let deep: IssuedCertificate;
let chain3: X509Certificate[];

before(async () => {
  pki = await makePki(['ec-p256']);
  const { issueCertificate } = await import('../emulator/pki.js');
  inter2 = await issueCertificate(
    {
      subject: 'CN=Second Intermediate',
      keySpec: 'ec-p256',
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2035-01-01T00:00:00Z'),
      isCa: true,
    },
    pki.root,
  );
  // root -> inter2 -> inter3 -> deep, to test ordering over three levels.
  const inter3 = await issueCertificate(
    {
      subject: 'CN=Third Intermediate',
      keySpec: 'ec-p384',
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2035-01-01T00:00:00Z'),
      isCa: true,
    },
    inter2,
  );
  deep = await leaf(inter3, { subject: 'CN=deep-leaf' });
  chain3 = [inter3.cert, inter2.cert];
});

const subjects = (cs: readonly X509Certificate[]) => cs.map((c) => c.subject);

test('parses PEM bundles in file order and DER certificates', () => {
  const leafCert = pki.leaves['ec-p256'];
  const bundle = Buffer.from(leafCert.certPem + pki.inter.certPem + pki.root.certPem);
  assert.deepEqual(subjects(parseCertificates(bundle, 'file b.pem')), subjects([leafCert.cert, pki.inter.cert, pki.root.cert]));
  const derPath = write(dir, 'leaf.der', '');
  openssl(['x509', '-in', write(dir, 'leaf.pem', leafCert.certPem), '-outform', 'DER', '-out', derPath]);
  const fromDer = parseCertificates(read(derPath), 'file leaf.der');
  assert.equal(fromDer.length, 1);
  assert.ok(fromDer[0]!.raw.equals(leafCert.cert.raw));
  // A combined certificate+key file: the key block is skipped here.
  const combined = Buffer.from(leafCert.certPem + leafCert.keyPem);
  assert.equal(parseCertificates(combined, 'file combined.pem').length, 1);
});

test('inputs without a certificate say what they hold', () => {
  const k = pki.leaves['ec-p256'];
  expectError(() => parseCertificates(Buffer.from(k.keyPem), 'file key.pem'), {
    code: 'CERT_INVALID',
    mentions: ['file key.pem', 'PRIVATE KEY', '--private-key'],
    secrets: [k.keyPem.split('\n')[1]!],
  });
  expectError(() => parseCertificates(Buffer.from('hello'), 'file junk'), { code: 'CERT_INVALID', mentions: ['file junk', 'cannot be parsed'] });
  const bad = `-----BEGIN CERTIFICATE-----\n${Buffer.from('not a certificate at all').toString('base64')}\n-----END CERTIFICATE-----\n`;
  expectError(() => parseCertificates(Buffer.from(bad), 'env CERT'), { code: 'CERT_INVALID', mentions: ['env CERT'] });
});

test('serial numbers convert to decimal with BigInt, matching OpenSSL', async () => {
  const serials = [
    '7fa1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3', // 20 bytes, the RFC 5280 maximum
    '00ffeeddccbbaa99887766554433221100', // high bit set: DER needs a leading 0x00
    '01',
  ];
  for (const hex of serials) {
    const c = await leaf(pki.inter, { serialHex: hex });
    const fromNode = serialToDecimal(c.cert.serialNumber);
    assert.equal(fromNode, BigInt(`0x${hex}`).toString(10), hex);
    const p = write(dir, `serial-${hex}.pem`, c.certPem);
    const out = openssl(['x509', '-in', p, '-noout', '-serial']).trim(); // serial=7FA1...
    assert.equal(fromNode, BigInt(`0x${out.split('=')[1]}`).toString(10));
    assert.ok(fromNode.length > 2 || hex === '01');
  }
  assert.equal(serialToDecimal('FF:01'), '65281');
  assert.equal(serialToDecimal('-0A'), '-10');
  // Beyond 2^53: a Number would lose digits.
  assert.equal(serialToDecimal('20000000000001'), '9007199254740993');
  expectError(() => serialToDecimal('xyz'), { code: 'CERT_INVALID' });
});

test('validity: expired and not-yet-valid certificates are refused with dates and the fix', async () => {
  const expired = await leaf(pki.inter, { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2025-01-01T00:00:00Z') });
  expectError(() => checkValidity(expired.cert, NOW_MS, 'file old.pem'), {
    code: 'CERT_EXPIRED',
    mentions: ['file old.pem', '2025-01-01T00:00:00Z', '2026-06-01T00:00:00Z', 'renew the certificate'],
  });
  const future = await leaf(pki.inter, { notBefore: new Date('2027-01-01T00:00:00Z'), notAfter: new Date('2028-01-01T00:00:00Z') });
  expectError(() => checkValidity(future.cert, NOW_MS, 'file new.pem'), {
    code: 'CERT_NOT_YET_VALID',
    mentions: ['file new.pem', '2027-01-01T00:00:00Z', 'renew the certificate'],
  });
  checkValidity(pki.leaves['ec-p256'].cert, NOW_MS);
  const soon = await leaf(pki.inter, { notAfter: new Date(NOW_MS + 3 * 24 * 3600 * 1000) });
  assert.equal(expiresSoon(soon.cert, NOW_MS), true);
  assert.equal(expiresSoon(pki.leaves['ec-p256'].cert, NOW_MS), false);
  assert.equal(expiresSoon(soon.cert, NOW_MS, 24 * 3600 * 1000), false);
});

test('a CA certificate is refused as the leaf', () => {
  expectError(() => assertNotCa(pki.inter.cert, 'file ca.pem'), { code: 'CERT_INVALID', mentions: ['file ca.pem', 'CA certificate', '--certificate'] });
  assertNotCa(pki.leaves['ec-p256'].cert, 'file leaf.pem');
});

test('orderChain: issuing order from any input order; duplicates, leaf copies and roots dropped', () => {
  const l = deep.cert;
  const [inter3, i2] = chain3;
  const expected = subjects([inter3!, i2!]);
  assert.deepEqual(subjects(orderChain(l, [i2!, pki.root.cert, inter3!])), expected);
  assert.deepEqual(subjects(orderChain(l, [pki.root.cert, i2!, inter3!, i2!, l])), expected);
  assert.deepEqual(orderChain(l, []), []);
  assert.ok(isSelfSigned(pki.root.cert));
  assert.ok(!isSelfSigned(pki.inter.cert));
  // Only the root given: it is the anchor, dropped, and nothing is wrong.
  assert.deepEqual(orderChain(pki.leaves['ec-p256'].cert, [pki.root.cert, pki.inter.cert]).length, 1);
});

test('orderChain: a certificate off the path is CHAIN_INVALID naming it', () => {
  // inter2 is a real CA, but not an issuer on the path of a leaf issued by inter.
  expectError(() => orderChain(pki.leaves['ec-p256'].cert, [pki.inter.cert, inter2.cert], 'file chain.pem'), {
    code: 'CHAIN_INVALID',
    mentions: ['Second Intermediate', 'file chain.pem', 'does not chain'],
  });
  // The leaf's issuer missing: the upper intermediate alone does not link.
  expectError(() => orderChain(deep.cert, [inter2.cert], 'file chain.pem'), { code: 'CHAIN_INVALID', mentions: ['missing intermediate'] });
});

test('orderChain keeps a cross-signed alternative issuer after the main path', async () => {
  // Same subject and key as inter, signed by a second root: a cross-signed intermediate.
  const { issueCertificate } = await import('../emulator/pki.js');
  const root2 = await issueCertificate({
    subject: 'CN=Other Root',
    keySpec: 'ec-p256',
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2035-01-01T00:00:00Z'),
    isCa: true,
  });
  const x509 = await import('@peculiar/x509');
  const { webcrypto, X509Certificate } = await import('node:crypto');
  const cross = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '0102',
      subject: new x509.X509Certificate(pki.inter.cert.raw).subject,
      issuer: new x509.X509Certificate(root2.cert.raw).subject,
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2035-01-01T00:00:00Z'),
      publicKey: new x509.X509Certificate(pki.inter.cert.raw).publicKey,
      signingKey: root2.cryptoKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as never,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    },
    webcrypto,
  );
  const crossCert = new X509Certificate(Buffer.from(cross.rawData));
  const chain = orderChain(pki.leaves['ec-p256'].cert, [crossCert, pki.inter.cert, pki.root.cert]);
  assert.equal(chain.length, 2);
  assert.ok(chain.some((c) => c.raw.equals(crossCert.raw)) && chain.some((c) => c.raw.equals(pki.inter.cert.raw)));
});
