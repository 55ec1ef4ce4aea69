import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { mlDsaVariant, parsePrivateKey, pkcs8AlgorithmOid } from './private-key.js';
import {
  COMMITTED_DIR,
  encryptPkcs8,
  expectError,
  makePki,
  openssl,
  PASSWORD,
  pemBody,
  read,
  tempDir,
  write,
  type Pki,
} from '../../test/fixtures/identity/make.js';

const { dir, cleanup } = tempDir();
after(cleanup);
let pki: Pki;
const files: Record<string, string> = {};

/** Same key, two objects: compare by public key. */
function sameKey(a: KeyObject, b: KeyObject): boolean {
  const pa = createPublicKey(a).export({ type: 'spki', format: 'der' });
  const pb = createPublicKey(b).export({ type: 'spki', format: 'der' });
  return pa.equals(pb);
}

before(async () => {
  pki = await makePki(['rsa-2048', 'ec-p256', 'ec-p384']);
  const rsa = write(dir, 'rsa-pkcs8.pem', pki.leaves['rsa-2048'].keyPem);
  const ec = write(dir, 'ec-pkcs8.pem', pki.leaves['ec-p256'].keyPem);
  const ec384 = write(dir, 'ec384-pkcs8.pem', pki.leaves['ec-p384'].keyPem);
  const out = (name: string) => (files[name] = join(dir, name));
  openssl(['rsa', '-in', rsa, '-traditional', '-out', out('rsa-pkcs1.pem')]);
  openssl(['rsa', '-in', rsa, '-traditional', '-outform', 'DER', '-out', out('rsa-pkcs1.der')]);
  openssl(['pkcs8', '-topk8', '-nocrypt', '-in', rsa, '-outform', 'DER', '-out', out('rsa-pkcs8.der')]);
  openssl(['ec', '-in', ec, '-out', out('ec-sec1.pem')]);
  openssl(['ec', '-in', ec384, '-outform', 'DER', '-out', out('ec384-sec1.der')]);
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', `pass:${PASSWORD}`, '-in', ec, '-out', out('ec-pbkdf2.pem')]);
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', `pass:${PASSWORD}`, '-in', rsa, '-outform', 'DER', '-out', out('rsa-pbkdf2.der')]);
  openssl(['pkcs8', '-topk8', '-scrypt', '-passout', `pass:${PASSWORD}`, '-in', rsa, '-out', out('rsa-scrypt.pem')]);
  openssl(['rsa', '-in', rsa, '-traditional', '-aes256', '-passout', `pass:${PASSWORD}`, '-out', out('rsa-legacy-enc.pem')]);
  // `openssl ecparam -genkey` style: an EC PARAMETERS block before the key.
  write(dir, 'ec-params.pem', `${openssl(['ecparam', '-name', 'prime256v1'])}${read(files['ec-sec1.pem']!).toString()}`);
  files['ec-params.pem'] = join(dir, 'ec-params.pem');
});

test('loads every unencrypted encoding OpenSSL writes, PEM and DER', () => {
  const rsaKey = pki.leaves['rsa-2048'].key;
  const ecKey = pki.leaves['ec-p256'].key;
  const cases: [string, KeyObject][] = [
    ['rsa-pkcs1.pem', rsaKey],
    ['rsa-pkcs1.der', rsaKey],
    ['rsa-pkcs8.der', rsaKey],
    ['ec-sec1.pem', ecKey],
    ['ec384-sec1.der', pki.leaves['ec-p384'].key],
    ['ec-params.pem', ecKey],
  ];
  for (const [name, expected] of cases) {
    const k = parsePrivateKey(read(files[name]!), `file ${name}`);
    assert.equal(k.type, 'private', name);
    assert.ok(sameKey(k, expected), name);
  }
  assert.ok(sameKey(parsePrivateKey(Buffer.from(pki.leaves['ec-p256'].keyPem), 'env KEY'), ecKey));
});

test('encrypted PKCS#8 (PBKDF2 and scrypt, PEM and DER) loads with the password', () => {
  for (const name of ['ec-pbkdf2.pem', 'rsa-pbkdf2.der', 'rsa-scrypt.pem']) {
    const k = parsePrivateKey(read(files[name]!), `file ${name}`, PASSWORD);
    assert.equal(k.type, 'private', name);
  }
});

test('encrypted key without a password: KEY_PASSWORD_REQUIRED with the three ways to give one', () => {
  for (const name of ['ec-pbkdf2.pem', 'rsa-pbkdf2.der']) {
    expectError(() => parsePrivateKey(read(files[name]!), `file ${name}`), {
      code: 'KEY_PASSWORD_REQUIRED',
      mentions: [`file ${name}`, '--pkcs8-password', 'ROLESANYWHERE_PKCS8_PASSWORD', '--pkcs8-password-file'],
    });
  }
});

test('wrong password: KEY_PASSWORD_WRONG, the password never echoed', () => {
  const wrong = 'wrong-Pw-aa91';
  for (const name of ['ec-pbkdf2.pem', 'rsa-scrypt.pem', 'rsa-pbkdf2.der']) {
    expectError(() => parsePrivateKey(read(files[name]!), `file ${name}`, wrong), {
      code: 'KEY_PASSWORD_WRONG',
      mentions: [`file ${name}`],
      secrets: [wrong, PASSWORD],
    });
  }
});

test('legacy OpenSSL PEM encryption is refused with the conversion command', () => {
  expectError(() => parsePrivateKey(read(files['rsa-legacy-enc.pem']!), 'file legacy.pem', PASSWORD), {
    code: 'KEY_UNSUPPORTED',
    mentions: ['file legacy.pem', 'Proc-Type: 4,ENCRYPTED', 'openssl pkcs8 -topk8'],
    secrets: [PASSWORD],
  });
});

test('a combined certificate+key PEM yields its key block', () => {
  const l = pki.leaves['ec-p384'];
  const k = parsePrivateKey(Buffer.from(l.certPem + pki.inter.certPem + l.keyPem), 'file combined.pem');
  assert.ok(sameKey(k, l.key));
});

test('not a key: KEY_INVALID saying what the input holds', () => {
  const l = pki.leaves['rsa-2048'];
  expectError(() => parsePrivateKey(Buffer.from(l.certPem), 'file cert.pem'), {
    code: 'KEY_INVALID',
    mentions: ['file cert.pem holds a CERTIFICATE, not a private key', '--private-key'],
  });
  expectError(() => parsePrivateKey(l.cert.raw, 'file cert.der'), { code: 'KEY_INVALID', mentions: ['file cert.der holds a CERTIFICATE'] });
  expectError(() => parsePrivateKey(Buffer.from('garbage'), 'file junk'), { code: 'KEY_INVALID', mentions: ['file junk'] });
  expectError(() => parsePrivateKey(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]), 'file odd.der'), { code: 'KEY_INVALID', mentions: ['file odd.der', 'DER'] });
  const two = Buffer.from(l.keyPem + pki.leaves['ec-p256'].keyPem);
  expectError(() => parsePrivateKey(two, 'file two.pem'), { code: 'KEY_INVALID', mentions: ['2 private keys'], secrets: [pemBody(l.keyPem)] });
  const pub = createPublicKey(l.key).export({ type: 'spki', format: 'pem' }).toString();
  expectError(() => parsePrivateKey(Buffer.from(pub), 'file pub.pem'), { code: 'KEY_INVALID', mentions: ['PUBLIC KEY'] });
  expectError(() => parsePrivateKey(Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\nQUJD\n-----END OPENSSH PRIVATE KEY-----\n'), 'file id_ecdsa'), {
    code: 'KEY_UNSUPPORTED',
    mentions: ['OpenSSH', 'ssh-keygen'],
  });
  // A key cut short (valid base64, broken DER): parsed as PEM, refused by the decoder.
  const cut = Buffer.from(pemBody(l.keyPem), 'base64').subarray(0, 600).toString('base64');
  const damaged = `-----BEGIN PRIVATE KEY-----\n${cut.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  expectError(() => parsePrivateKey(Buffer.from(damaged), 'file damaged.pem'), { code: 'KEY_INVALID', mentions: ['file damaged.pem'], secrets: [cut] });
});

test('an EC key on a curve the service does not take still parses (the signer refuses it later)', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const k = parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'der' }), 'file k1.der');
  assert.equal(k.asymmetricKeyDetails?.namedCurve, 'secp256k1');
});

test('ML-DSA keys: named by OID, and on a runtime without ML-DSA the error names the needed Node.js', () => {
  const pem = read(join(COMMITTED_DIR, 'mldsa65-key.pem'));
  const der = Buffer.from(pemBody(pem.toString()), 'base64');
  assert.equal(pkcs8AlgorithmOid(der), '2.16.840.1.101.3.4.3.18');
  assert.equal(mlDsaVariant(der), 'ML-DSA-65');
  assert.equal(mlDsaVariant(pki.leaves['rsa-2048'].key.export({ type: 'pkcs8', format: 'der' })), undefined);
  let supported = true;
  try {
    generateKeyPairSync('ml-dsa-65' as never);
  } catch {
    supported = false;
  }
  if (supported) {
    assert.equal(parsePrivateKey(pem, 'file mldsa65-key.pem').asymmetricKeyType, 'ml-dsa-65');
  } else {
    expectError(() => parsePrivateKey(pem, 'file mldsa65-key.pem'), {
      code: 'KEY_UNSUPPORTED',
      mentions: ['file mldsa65-key.pem', 'ML-DSA-65', 'ML-DSA keys need Node.js >= 24.7; this is ' + process.version],
      secrets: [pemBody(pem.toString())],
    });
  }
});

test('encrypted keys that OpenSSL refuses without "bad decrypt": wrong password vs key this runtime cannot load', () => {
  // Garbage correctly padded under the password: what a wrong password looks like when the
  // padding check passes by chance (about 1 in 256 tries).
  const garbage = encryptPkcs8(Buffer.from('0123456789abcdef0123456789'), PASSWORD);
  expectError(() => parsePrivateKey(garbage, 'file lucky.der', PASSWORD), { code: 'KEY_PASSWORD_WRONG', mentions: ['file lucky.der'], secrets: [PASSWORD] });
  // A good key whose structure is damaged inside the encryption.
  const rsaDer = pki.leaves['rsa-2048'].key.export({ type: 'pkcs8', format: 'der' });
  const damaged = encryptPkcs8(Buffer.concat([rsaDer.subarray(0, 30), Buffer.alloc(rsaDer.length - 30)]), PASSWORD);
  const e = expectError(() => parsePrivateKey(damaged, 'file damaged.der', PASSWORD), { code: 'KEY_INVALID', mentions: ['decrypts'] });
  assert.ok(!e.message.includes(PASSWORD));
  // An encrypted ML-DSA key with the right password.
  const ml = Buffer.from(pemBody(read(join(COMMITTED_DIR, 'mldsa65-key.pem')).toString()), 'base64');
  const enc = encryptPkcs8(ml, PASSWORD);
  const pem = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${enc
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
  let supported = true;
  try {
    generateKeyPairSync('ml-dsa-65' as never);
  } catch {
    supported = false;
  }
  if (supported) {
    assert.equal(parsePrivateKey(Buffer.from(pem), 'file mldsa-enc.pem', PASSWORD).asymmetricKeyType, 'ml-dsa-65');
  } else {
    expectError(() => parsePrivateKey(Buffer.from(pem), 'file mldsa-enc.pem', PASSWORD), {
      code: 'KEY_UNSUPPORTED',
      mentions: ['ML-DSA-65', 'ML-DSA keys need Node.js >= 24.7'],
      secrets: [PASSWORD],
    });
    expectError(() => parsePrivateKey(Buffer.from(pem), 'file mldsa-enc.pem', 'nope-123'), { code: 'KEY_PASSWORD_WRONG' });
  }
});

test('an encrypted key asking for an unbounded key-derivation cost is refused before any work', () => {
  const src = write(dir, 'iter.pem', pki.leaves['ec-p256'].keyPem);
  const der = join(dir, 'iter-65536.der');
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-iter', '65536', '-passout', `pass:${PASSWORD}`, '-in', src, '-outform', 'DER', '-out', der]);
  const patched = Buffer.from(read(der));
  // iterations = 65536 is INTEGER 02 03 01 00 00; 02 03 7f 00 00 (8,323,072) keeps the length.
  const at = patched.indexOf(Buffer.from([0x02, 0x03, 0x01, 0x00, 0x00]));
  assert.ok(at > 0, 'the iteration count is where OpenSSL puts it');
  patched[at + 2] = 0x7f;
  expectError(() => parsePrivateKey(patched, 'file huge-iter.der', PASSWORD), { code: 'KEY_UNSUPPORTED', mentions: ['key-derivation iterations'] });
  // The unpatched key, same format, loads: only the cost was refused.
  assert.equal(parsePrivateKey(read(der), 'file iter-65536.der', PASSWORD).type, 'private');
});
