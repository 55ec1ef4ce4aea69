import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { MAX_KEY_DERIVATION_COST } from './limits.js';
import { parsePkcs12 } from './pkcs12.js';
import { maxIterationCount } from './der.js';
import { isPkcs12 } from './sniff.js';
import type { IssuedCertificate } from '../emulator/pki.js';
import { expectError, leaf, makePki, openssl, PASSWORD, read, tempDir, write, type Pki } from '../../test/fixtures/identity/make.js';

const { dir, cleanup } = tempDir();
after(cleanup);
let pki: Pki;
let rsaUnderEc: IssuedCertificate; // RSA key, ECDSA signature: the case forge would re-encode wrongly
const bundles: Record<string, string> = {};

function spki(k: KeyObject): Buffer {
  return createPublicKey(k).export({ type: 'spki', format: 'der' });
}

function exportP12(name: string, l: IssuedCertificate, extra: string[], chain?: string): string {
  const cert = write(dir, `${name}.crt`, l.certPem);
  const key = write(dir, `${name}.key`, l.keyPem);
  const out = join(dir, `${name}.p12`);
  openssl(['pkcs12', '-export', '-in', cert, '-inkey', key, ...(chain === undefined ? [] : ['-certfile', chain]), '-out', out, ...extra]);
  bundles[name] = out;
  return out;
}

before(async () => {
  pki = await makePki(['rsa-2048', 'ec-p256', 'ec-p384']);
  rsaUnderEc = await leaf(pki.root, { keySpec: 'rsa-2048', subject: 'CN=rsa-under-ec' });
  const pw = ['-passout', `pass:${PASSWORD}`];
  exportP12('ec-default', pki.leaves['ec-p256'], pw);
  exportP12('rsa-default', pki.leaves['rsa-2048'], pw);
  exportP12('ec-legacy', pki.leaves['ec-p384'], ['-legacy', ...pw]);
  exportP12('rsa-legacy', pki.leaves['rsa-2048'], ['-legacy', ...pw]);
  exportP12('rsa-3des', pki.leaves['rsa-2048'], ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', ...pw]);
  exportP12('ec-empty', pki.leaves['ec-p256'], ['-passout', 'pass:']);
  exportP12('ec-none', pki.leaves['ec-p256'], ['-keypbe', 'NONE', '-certpbe', 'NONE', '-nomac', '-passout', 'pass:']);
  exportP12('ec-nomac', pki.leaves['ec-p256'], ['-nomac', ...pw]);
  // Chain given root first: the reader must order it.
  const chain = write(dir, 'chain-root-first.pem', pki.root.certPem + pki.inter.certPem);
  exportP12('ec-chain', pki.leaves['ec-p256'], pw, chain);
  exportP12('rsa-chain', pki.leaves['rsa-2048'], ['-legacy', ...pw], chain);
  exportP12('rsa-under-ec', rsaUnderEc, pw, write(dir, 'root.pem', pki.root.certPem));
  // Only certificates, no key.
  openssl(['pkcs12', '-export', '-nokeys', '-in', write(dir, 'only.crt', pki.leaves['ec-p256'].certPem), '-out', join(dir, 'nokey.p12'), ...pw]);
  bundles['nokey'] = join(dir, 'nokey.p12');
});

test('OpenSSL 3 default, legacy (RC2/3DES) and 3DES-only bundles load: exact certificate bytes and the matching key', () => {
  const cases: [string, IssuedCertificate][] = [
    ['ec-default', pki.leaves['ec-p256']],
    ['rsa-default', pki.leaves['rsa-2048']],
    ['ec-legacy', pki.leaves['ec-p384']],
    ['rsa-legacy', pki.leaves['rsa-2048']],
    ['rsa-3des', pki.leaves['rsa-2048']],
  ];
  for (const [name, l] of cases) {
    const data = read(bundles[name]!);
    assert.ok(isPkcs12(data), name);
    const r = parsePkcs12(data, `file ${name}.p12`, PASSWORD);
    assert.ok(r.leaf.raw.equals(l.cert.raw), name);
    assert.ok(spki(r.key).equals(spki(l.key)), name);
    assert.equal(r.key.type, 'private');
    assert.deepEqual(r.chain, []);
  }
});

test('an RSA leaf signed by an ECDSA CA keeps its exact DER (no re-encoded signature algorithm)', () => {
  const r = parsePkcs12(read(bundles['rsa-under-ec']!), 'file rsa-under-ec.p12', PASSWORD);
  assert.ok(r.leaf.raw.equals(rsaUnderEc.cert.raw));
  assert.ok(r.leaf.verify(pki.root.cert.publicKey));
  assert.deepEqual(r.chain, []); // the root is dropped
});

test('a bundle holding a chain: leaf picked by key, intermediates ordered, root dropped, bytes exact', () => {
  for (const [name, l] of [
    ['ec-chain', pki.leaves['ec-p256']],
    ['rsa-chain', pki.leaves['rsa-2048']],
  ] as const) {
    const r = parsePkcs12(read(bundles[name]!), `file ${name}.p12`, PASSWORD);
    assert.ok(r.leaf.raw.equals(l.cert.raw), name);
    assert.equal(r.chain.length, 1, name);
    assert.ok(r.chain[0]!.raw.equals(pki.inter.cert.raw), name);
  }
});

test('unprotected bundles: empty password and no password at all are both tried', () => {
  for (const name of ['ec-empty', 'ec-none']) {
    const r = parsePkcs12(read(bundles[name]!), `file ${name}.p12`);
    assert.ok(r.leaf.raw.equals(pki.leaves['ec-p256'].cert.raw), name);
    assert.ok(parsePkcs12(read(bundles[name]!), `file ${name}.p12`, '').leaf.raw.equals(pki.leaves['ec-p256'].cert.raw));
  }
  assert.ok(parsePkcs12(read(bundles['ec-nomac']!), 'file ec-nomac.p12', PASSWORD).leaf.raw.equals(pki.leaves['ec-p256'].cert.raw));
});

test('password errors: missing -> KEY_PASSWORD_REQUIRED, wrong -> KEY_PASSWORD_WRONG; never echoed', () => {
  for (const name of ['ec-default', 'rsa-legacy', 'ec-nomac']) {
    expectError(() => parsePkcs12(read(bundles[name]!), `file ${name}.p12`), {
      code: 'KEY_PASSWORD_REQUIRED',
      mentions: [`file ${name}.p12`, '--pkcs8-password', 'ROLESANYWHERE_PKCS8_PASSWORD', '--pkcs8-password-file'],
    });
    expectError(() => parsePkcs12(read(bundles[name]!), `file ${name}.p12`, 'not-it-Q9'), {
      code: 'KEY_PASSWORD_WRONG',
      mentions: [`file ${name}.p12`],
      secrets: ['not-it-Q9', PASSWORD],
    });
  }
});

test('not a PKCS#12, or one without a key: PKCS12_INVALID', () => {
  expectError(() => parsePkcs12(pki.leaves['ec-p256'].cert.raw, 'file cert.p12'), { code: 'PKCS12_INVALID', mentions: ['file cert.p12', 'not a PKCS#12'] });
  expectError(() => parsePkcs12(Buffer.from('garbage bytes'), 'file junk.pfx'), { code: 'PKCS12_INVALID', mentions: ['file junk.pfx'] });
  expectError(() => parsePkcs12(read(bundles['nokey']!), 'file nokey.p12', PASSWORD), { code: 'PKCS12_INVALID', mentions: ['no private key'] });
  // Truncated bundle.
  const data = read(bundles['ec-default']!);
  expectError(() => parsePkcs12(data.subarray(0, data.length - 100), 'file cut.p12', PASSWORD), { code: 'PKCS12_INVALID', mentions: ['file cut.p12'] });
  assert.equal(isPkcs12(pki.leaves['ec-p256'].cert.raw), false);
});

test('iteration counts are read before any decryption, and a bundle asking for too many is refused', () => {
  assert.equal(maxIterationCount(read(bundles['ec-default']!)), 2048); // OpenSSL 3's default
  assert.equal(maxIterationCount(read(bundles['ec-none']!)), 0);
  // PFX { version 3, authSafe, MacData { DigestInfo, salt, iterations = 2,000,000 } }: forge
  // would spend minutes on it in pure JavaScript.
  const tlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag, content.length]), content]);
  const authSafe = tlv(0x30, tlv(0x06, Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01])));
  const macData = tlv(0x30, Buffer.concat([tlv(0x30, Buffer.alloc(0)), tlv(0x04, Buffer.alloc(8, 1)), tlv(0x02, Buffer.from([0x1e, 0x84, 0x80]))]));
  const pfx = tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([3])), authSafe, macData]));
  assert.ok(isPkcs12(pfx));
  assert.equal(maxIterationCount(pfx), 2_000_000);
  assert.ok(maxIterationCount(pfx) > MAX_KEY_DERIVATION_COST);
  expectError(() => parsePkcs12(pfx, 'file slow.p12', PASSWORD), { code: 'PKCS12_INVALID', mentions: ['file slow.p12', '2000000', 'iterations'] });
});
