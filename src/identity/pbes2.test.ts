import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { decryptPbes2 } from './pbes2.js';
import { encryptPkcs8, openssl, tempDir, write, read } from '../../test/fixtures/identity/make.js';

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
