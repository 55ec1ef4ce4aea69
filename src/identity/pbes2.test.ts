import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { encryptPkcs8, expectError, openssl, tempDir, write, read } from '../../test/fixtures/identity/make.js';
import { MAX_KEY_DERIVATION_COST } from './limits.js';
import { decryptPbes2 } from './pbes2.js';
import { parsePkcs12 } from './pkcs12.js';
import { parsePrivateKey } from './private-key.js';

test('decrypts what OpenSSL writes (PBKDF2 and scrypt) and what the test encoder writes', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const plain = write(dir, 'k.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
  for (const args of [['-v2', 'aes-256-cbc'], ['-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA512'], ['-scrypt'], ['-v2', 'des3']]) {
    const out = `${dir}/enc.der`;
    openssl(['pkcs8', '-topk8', ...args, '-passout', 'pass:pw', '-in', plain, '-outform', 'DER', '-out', out]);
    const r = decryptPbes2(read(out), 'pw');
    assert.equal(r.status, 'ok', args.join(' '));
    assert.ok(r.status === 'ok' && r.plain.equals(der), args.join(' '));
    const wrong = decryptPbes2(read(out), 'not-pw');
    // A wrong password almost always breaks the padding; when it does not, the plaintext is garbage.
    assert.ok(wrong.status === 'bad-padding' || (wrong.status === 'ok' && !wrong.plain.equals(der)));
  }
  const mine = decryptPbes2(encryptPkcs8(Buffer.from('anything at all'), 'pw'), 'pw');
  assert.ok(mine.status === 'ok' && mine.plain.toString() === 'anything at all');
  assert.equal(decryptPbes2(Buffer.from([0x30, 0x00]), 'pw').status, 'unsupported');
  assert.equal(decryptPbes2(der, 'pw').status, 'unsupported'); // not encrypted at all
});

test('one key-derivation limit: PBES2 decryption, encrypted PKCS#8 and PKCS#12 all stop just past MAX_KEY_DERIVATION_COST', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  assert.equal(MAX_KEY_DERIVATION_COST, 0x100000);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const plain = write(dir, 'k.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const out = `${dir}/enc.der`;
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-iter', '65536', '-passout', 'pass:pw', '-in', plain, '-outform', 'DER', '-out', out]);
  // iterations = 65536 is INTEGER 02 03 01 00 00; the same length holds 2^20 and 2^20 + 1.
  const withIterations = (last: number): Buffer => {
    const b = Buffer.from(read(out));
    const at = b.indexOf(Buffer.from([0x02, 0x03, 0x01, 0x00, 0x00]));
    assert.ok(at > 0, 'the iteration count is where OpenSSL puts it');
    b[at + 2] = 0x10;
    b[at + 4] = last;
    return b;
  };
  const over = withIterations(0x01);
  assert.equal(decryptPbes2(over, 'pw').status, 'unsupported');
  expectError(() => parsePrivateKey(over, 'file over.der', 'pw'), { code: 'KEY_UNSUPPORTED', mentions: [String(MAX_KEY_DERIVATION_COST)] });
  // At the limit itself the derivation runs (with another count than the key was made
  // with, so the result does not decrypt it): the limit is reachable, not an off-by-one.
  assert.equal(decryptPbes2(withIterations(0x00), 'pw').status, 'bad-padding');
  // PFX { version 3, authSafe, MacData { DigestInfo, salt, iterations = 2^20 + 1 } }.
  const tlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag, content.length]), content]);
  const authSafe = tlv(0x30, tlv(0x06, Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01])));
  const macData = tlv(0x30, Buffer.concat([tlv(0x30, Buffer.alloc(0)), tlv(0x04, Buffer.alloc(8, 1)), tlv(0x02, Buffer.from([0x10, 0x00, 0x01]))]));
  const pfx = tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([3])), authSafe, macData]));
  expectError(() => parsePkcs12(pfx, 'file over.p12', 'pw'), { code: 'PKCS12_INVALID', mentions: [String(MAX_KEY_DERIVATION_COST + 1), 'iterations'] });
});
