import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LogFields, Logger } from '../core/logger.js';
import { verifyBytes } from './key-signer.js';
import {
  encryptPkcs8,
  expectRejection,
  makePki,
  NOT_AFTER,
  NOW_MS,
  openssl,
  PASSWORD,
  read,
  tempDir,
  write,
  type Pki,
} from '../../test/fixtures/identity/make.js';
import { needsKeyDerivation } from './key-derivation.js';
import { buildIdentity, decodeIdentity } from './load.js';

const { dir, cleanup } = tempDir();
after(cleanup);
let pki: Pki;
let encryptedPem: Buffer;
let p12: Buffer;

before(async () => {
  pki = await makePki(['ec-p256']);
  const l = pki.leaves['ec-p256'];
  const plain = write(dir, 'k.pem', l.keyPem);
  const out = join(dir, 'k-enc.pem');
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', `pass:${PASSWORD}`, '-in', plain, '-out', out]);
  encryptedPem = read(out);
  const p12Path = join(dir, 'b.p12');
  openssl([
    'pkcs12',
    '-export',
    '-in',
    write(dir, 'c.pem', l.certPem),
    '-inkey',
    plain,
    '-certfile',
    write(dir, 'i.pem', pki.inter.certPem),
    '-passout',
    `pass:${PASSWORD}`,
    '-out',
    p12Path,
  ]);
  p12 = read(p12Path);
});

function recorder(): Logger & { lines: Array<{ level: string; msg: string; fields?: LogFields }> } {
  const lines: Array<{ level: string; msg: string; fields?: LogFields }> = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
  const l: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => l };
  return Object.assign(l, { lines });
}

test('inputs behind a password-based key derivation are told apart from plain ones', () => {
  const l = pki.leaves['ec-p256'];
  assert.equal(needsKeyDerivation(encryptedPem, 'file k.pem'), true);
  assert.equal(needsKeyDerivation(encryptPkcs8(l.key.export({ type: 'pkcs8', format: 'der' }), PASSWORD), 'file k.der'), true);
  assert.equal(needsKeyDerivation(p12, 'file b.bin'), true);
  assert.equal(needsKeyDerivation(Buffer.from(l.keyPem), 'file k.pem'), false);
  assert.equal(needsKeyDerivation(l.key.export({ type: 'pkcs8', format: 'der' }), 'file k.der'), false);
  assert.equal(needsKeyDerivation(Buffer.from(l.certPem), 'file c.pem'), false);
});

test('decoded in the worker: the same identity as buildIdentity, with a key that signs', async () => {
  const l = pki.leaves['ec-p256'];
  const cases = [
    { certData: Buffer.from(l.certPem), certLabel: 'file c.pem', keyData: encryptedPem, keyLabel: 'file k.pem' },
    { certData: p12, certLabel: 'file b.p12' },
  ];
  for (const c of cases) {
    const input = { ...c, password: PASSWORD, nowMs: NOW_MS };
    const direct = buildIdentity(input);
    const viaWorker = await decodeIdentity(input);
    assert.equal(viaWorker.fingerprint, direct.fingerprint, c.certLabel);
    assert.equal(viaWorker.serialDecimal, direct.serialDecimal);
    assert.deepEqual(
      viaWorker.chain.map((x) => x.fingerprint256),
      direct.chain.map((x) => x.fingerprint256),
    );
    assert.equal(viaWorker.signer.description, direct.signer.description);
    const data = Buffer.from('signed in the parent thread');
    assert.ok(verifyBytes(viaWorker.signer.kind, viaWorker.certificate.publicKey, data, await viaWorker.signer.sign(data)));
  }
});

test('errors from the worker keep their code, message and details; its log lines reach the parent logger', async () => {
  const l = pki.leaves['ec-p256'];
  await expectRejection(
    decodeIdentity({
      certData: Buffer.from(l.certPem),
      certLabel: 'file c.pem',
      keyData: encryptedPem,
      keyLabel: 'file k.pem',
      password: 'wrong',
      nowMs: NOW_MS,
    }),
    {
      code: 'KEY_PASSWORD_WRONG',
      mentions: ['file k.pem'],
      secrets: ['wrong'],
    },
  );
  await expectRejection(decodeIdentity({ certData: p12, certLabel: 'file b.p12', nowMs: NOW_MS }), { code: 'KEY_PASSWORD_REQUIRED', mentions: ['file b.p12'] });
  // Three days before expiry: buildIdentity warns, from inside the worker.
  const logger = recorder();
  await decodeIdentity({ certData: p12, certLabel: 'file b.p12', password: PASSWORD, nowMs: NOT_AFTER.getTime() - 3 * 86_400_000, logger });
  const warn = logger.lines.find((x) => x.msg === 'certificate expires soon: renew it');
  assert.equal(warn?.level, 'warn');
  assert.equal(warn?.fields?.['source'], 'file b.p12');
});
