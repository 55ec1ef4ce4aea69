import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ManualClock } from '../core/clock.js';
import type { Identity } from '../core/identity.js';
import type { LogFields, Logger } from '../core/logger.js';
import { verifyBytes } from './key-signer.js';
import type { IssuedCertificate } from '../emulator/pki.js';
import { buildIdentity, identitySummary, loadCertificateOnly, loadIdentity, loadPrivateKey, type IdentityConfig } from './load.js';
import { MAX_INPUT_BYTES } from './limits.js';
import {
  COMMITTED_DIR,
  expectRejection,
  expectError,
  leaf,
  makePki,
  NOW_MS,
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
let rsa4096: IssuedCertificate;
const clock = new ManualClock(NOW_MS);
const f = (name: string) => join(dir, name);
const file = (name: string) => ({ kind: 'file' as const, path: f(name) });

interface Logged {
  level: string;
  msg: string;
  fields?: LogFields;
}
function recordingLogger(into: Logged[]): Logger {
  const mk = (level: string) => (msg: string, fields?: LogFields) => void into.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
  const l: Logger = { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), child: () => l };
  return l;
}

/** The signer's signature verifies with the certificate's public key: the identity is usable. */
async function assertSigns(id: Identity): Promise<void> {
  const data = Buffer.from('AWS4-X509-ECDSA-SHA256\n20260601T000000Z\nscope\nabc');
  const sig = await id.signer.sign(data);
  assert.ok(verifyBytes(id.signer.kind, id.certificate.publicKey, data, sig), id.signer.description);
}

before(async () => {
  pki = await makePki();
  rsa4096 = await leaf(pki.inter, { keySpec: 'rsa-4096', subject: 'CN=workload-rsa-4096' });
  for (const [name, l] of Object.entries({ ...pki.leaves, 'rsa-4096': rsa4096 })) {
    write(dir, `${name}.crt`, l.certPem);
    write(dir, `${name}.key`, l.keyPem);
  }
  write(dir, 'inter.pem', pki.inter.certPem);
  write(dir, 'root-inter.pem', pki.root.certPem + pki.inter.certPem);
  openssl(['x509', '-in', f('rsa-2048.crt'), '-outform', 'DER', '-out', f('rsa-2048.der')]);
  openssl(['rsa', '-in', f('rsa-2048.key'), '-traditional', '-out', f('rsa-2048.pkcs1.pem')]);
  openssl(['ec', '-in', f('ec-p521.key'), '-out', f('ec-p521.sec1.pem')]);
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', `pass:${PASSWORD}`, '-in', f('ec-p384.key'), '-out', f('ec-p384.enc.pem')]);
  openssl(['pkcs8', '-topk8', '-scrypt', '-passout', `pass:${PASSWORD}`, '-in', f('rsa-2048.key'), '-out', f('rsa-2048.scrypt.pem')]);
  openssl([
    'pkcs12',
    '-export',
    '-in',
    f('ec-p256.crt'),
    '-inkey',
    f('ec-p256.key'),
    '-certfile',
    f('root-inter.pem'),
    '-out',
    f('ec-p256.p12'),
    '-passout',
    `pass:${PASSWORD}`,
  ]);
  openssl([
    'pkcs12',
    '-export',
    '-legacy',
    '-in',
    f('rsa-2048.crt'),
    '-inkey',
    f('rsa-2048.key'),
    '-out',
    f('rsa-2048-legacy.pfx'),
    '-passout',
    `pass:${PASSWORD}`,
  ]);
  write(dir, 'password.txt', `${PASSWORD}\n`);
  write(dir, 'leaf-root-inter.pem', pki.leaves['ec-p256'].certPem + pki.root.certPem + pki.inter.certPem);
  write(dir, 'combined.pem', pki.leaves['ec-p384'].certPem + pki.inter.certPem + pki.leaves['ec-p384'].keyPem);
  // RSA-1024: OpenSSL still makes one; the service (and the sidecar) refuse it.
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:1024',
    '-nodes',
    '-keyout',
    f('rsa1024.key'),
    '-out',
    f('rsa1024.crt'),
    '-subj',
    '/CN=weak',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:FALSE',
  ]);
});

test('every key type loads from PEM files, with the fields the signer and logs need', async () => {
  const expected = {
    'rsa-2048': ['RSA-2048', 'AWS4-X509-RSA-SHA256'],
    'rsa-4096': ['RSA-4096', 'AWS4-X509-RSA-SHA256'],
    'ec-p256': ['EC-P-256', 'AWS4-X509-ECDSA-SHA256'],
    'ec-p384': ['EC-P-384', 'AWS4-X509-ECDSA-SHA256'],
    'ec-p521': ['EC-P-521', 'AWS4-X509-ECDSA-SHA256'],
  } as const;
  for (const [name, [description, algorithm]] of Object.entries(expected)) {
    const id = await loadIdentity({ certificate: file(`${name}.crt`), privateKey: file(`${name}.key`), intermediates: file('inter.pem') }, { clock });
    assert.equal(id.signer.description, description);
    assert.equal(id.signer.algorithm, algorithm);
    await assertSigns(id);
    const src = name === 'rsa-4096' ? rsa4096 : pki.leaves[name as keyof Pki['leaves']];
    assert.ok(id.certificate.raw.equals(src.cert.raw));
    assert.equal(id.serialDecimal, BigInt(`0x${id.certificate.serialNumber}`).toString(10));
    assert.equal(id.fingerprint, createHash('sha256').update(src.cert.raw).digest('hex'));
    assert.equal(id.notBefore, Date.parse('2025-01-01T00:00:00Z'));
    assert.equal(id.notAfter, Date.parse('2035-01-01T00:00:00Z'));
    assert.equal(id.chain.length, 1);
    assert.ok(id.chain[0]!.raw.equals(pki.inter.cert.raw));
    assert.ok(Object.isFrozen(id));
  }
  // The fingerprint is what `openssl x509 -fingerprint -sha256` prints, without colons.
  const id = await loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('ec-p256.key') }, { clock });
  const out = openssl(['x509', '-in', f('ec-p256.crt'), '-noout', '-fingerprint', '-sha256']).trim();
  assert.equal(id.fingerprint, out.split('=')[1]!.replace(/:/g, '').toLowerCase());
  const summary = identitySummary(id);
  assert.equal(summary['key'], 'EC-P-256');
  assert.equal(summary['fingerprint'], id.fingerprint);
  assert.ok(!JSON.stringify(summary).includes(pemBody(pki.leaves['ec-p256'].keyPem).slice(0, 24)));
});

test('other encodings: DER certificate, PKCS#1, SEC1, encrypted PKCS#8 (value and file), PKCS#12, combined PEM', async () => {
  const cases: [string, IdentityConfig, IssuedCertificate][] = [
    ['DER cert + PKCS#1 key', { certificate: file('rsa-2048.der'), privateKey: file('rsa-2048.pkcs1.pem') }, pki.leaves['rsa-2048']],
    ['SEC1 P-521', { certificate: file('ec-p521.crt'), privateKey: file('ec-p521.sec1.pem') }, pki.leaves['ec-p521']],
    [
      'PBKDF2, password value',
      { certificate: file('ec-p384.crt'), privateKey: file('ec-p384.enc.pem'), password: { kind: 'value', value: PASSWORD } },
      pki.leaves['ec-p384'],
    ],
    [
      'scrypt, password file',
      { certificate: file('rsa-2048.crt'), privateKey: file('rsa-2048.scrypt.pem'), password: { kind: 'file', path: f('password.txt') } },
      pki.leaves['rsa-2048'],
    ],
    ['PKCS#12 default with chain', { certificate: file('ec-p256.p12'), password: { kind: 'value', value: PASSWORD } }, pki.leaves['ec-p256']],
    ['PKCS#12 legacy .pfx', { certificate: file('rsa-2048-legacy.pfx'), password: { kind: 'file', path: f('password.txt') } }, pki.leaves['rsa-2048']],
    ['combined cert+chain+key PEM', { certificate: file('combined.pem') }, pki.leaves['ec-p384']],
  ];
  for (const [name, cfg, src] of cases) {
    const id = await loadIdentity(cfg, { clock });
    assert.ok(id.certificate.raw.equals(src.cert.raw), name);
    await assertSigns(id);
  }
  const p12 = await loadIdentity({ certificate: file('ec-p256.p12'), password: { kind: 'value', value: PASSWORD } }, { clock });
  assert.deepEqual(
    p12.chain.map((c) => c.subject),
    [pki.inter.cert.subject],
  );
  const combined = await loadIdentity({ certificate: file('combined.pem') }, { clock });
  assert.equal(combined.chain.length, 1);
});

test('the chain merges the certificate file extras and --intermediates: deduplicated, ordered, root dropped', async () => {
  // Root first, and the intermediate both in the certificate file and in --intermediates.
  const id = await loadIdentity(
    { certificate: file('leaf-root-inter.pem'), privateKey: file('ec-p256.key'), intermediates: file('root-inter.pem') },
    { clock },
  );
  assert.deepEqual(
    id.chain.map((c) => c.subject),
    [pki.inter.cert.subject],
  );
  // A bundle written root-first: the leaf is the certificate that matches the key.
  write(dir, 'root-first.pem', pki.inter.certPem + pki.leaves['ec-p256'].certPem);
  const id2 = await loadIdentity({ certificate: file('root-first.pem'), privateKey: file('ec-p256.key') }, { clock });
  assert.ok(id2.certificate.raw.equals(pki.leaves['ec-p256'].cert.raw));
  assert.equal(id2.chain.length, 1);
  // An intermediate that does not belong.
  const stranger = await leaf(pki.root, { subject: 'CN=Stranger CA', isCa: true });
  write(dir, 'stranger.pem', stranger.certPem);
  await expectRejection(loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('ec-p256.key'), intermediates: file('stranger.pem') }, { clock }), {
    code: 'CHAIN_INVALID',
    mentions: ['Stranger CA', f('stranger.pem')],
  });
});

test('environment variables (PEM or base64) and stdin as sources', async () => {
  const env = {
    CERT_PEM: pki.leaves['ec-p256'].certPem,
    KEY_B64: Buffer.from(pki.leaves['ec-p256'].keyPem).toString('base64'),
    P12_B64: read(f('ec-p256.p12')).toString('base64'),
  };
  const a = await loadIdentity({ certificate: { kind: 'env', name: 'CERT_PEM' }, privateKey: { kind: 'env', name: 'KEY_B64' } }, { clock, env });
  await assertSigns(a);
  const b = await loadIdentity({ certificate: { kind: 'env', name: 'P12_B64' }, password: { kind: 'value', value: PASSWORD } }, { clock, env });
  assert.ok(b.certificate.raw.equals(pki.leaves['ec-p256'].cert.raw));
  const c = await loadIdentity(
    { certificate: file('ec-p256.crt'), privateKey: { kind: 'file', path: '-' } },
    { clock, stdin: Readable.from([Buffer.from(pki.leaves['ec-p256'].keyPem)]) },
  );
  await assertSigns(c);
  await expectRejection(loadIdentity({ certificate: { kind: 'stdin' }, privateKey: { kind: 'file', path: '-' } }, { clock, stdin: Readable.from([]) }), {
    code: 'CONFIG_INVALID',
    mentions: ['only one of --certificate, --private-key and --intermediates'],
  });
  await expectRejection(loadIdentity({ certificate: { kind: 'env', name: 'NOPE' }, privateKey: file('ec-p256.key') }, { clock, env }), {
    code: 'CONFIG_INVALID',
    mentions: ['NOPE', '--certificate-env'],
  });
});

test('key and certificate that do not belong together: KEY_CERT_MISMATCH naming both sources', async () => {
  const e = await expectRejection(loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('ec-p384.key') }, { clock }), {
    code: 'KEY_CERT_MISMATCH',
    mentions: [f('ec-p256.crt'), f('ec-p384.key'), 'use the key that belongs to this certificate'],
    secrets: [pemBody(pki.leaves['ec-p384'].keyPem)],
  });
  assert.equal(e.exitCode, 3);
  await expectRejection(loadIdentity({ certificate: file('rsa-2048.crt'), privateKey: file('ec-p256.key') }, { clock }), { code: 'KEY_CERT_MISMATCH' });
});

test('validity and leaf checks: expired, not yet valid, CA as leaf, RSA-1024', async () => {
  clock.set(Date.parse('2036-01-01T00:00:00Z'));
  try {
    await expectRejection(loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('ec-p256.key') }, { clock }), {
      code: 'CERT_EXPIRED',
      mentions: [f('ec-p256.crt'), '2035-01-01T00:00:00Z', 'renew the certificate'],
    });
    clock.set(Date.parse('2024-06-01T00:00:00Z'));
    await expectRejection(loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('ec-p256.key') }, { clock }), {
      code: 'CERT_NOT_YET_VALID',
      mentions: ['2025-01-01T00:00:00Z'],
    });
  } finally {
    clock.set(NOW_MS);
  }
  expectError(
    () =>
      buildIdentity({
        certData: Buffer.from(pki.inter.certPem),
        certLabel: 'file ca.pem',
        keyData: Buffer.from(pki.inter.keyPem),
        keyLabel: 'file ca.key',
        nowMs: NOW_MS,
      }),
    {
      code: 'CERT_INVALID',
      mentions: ['file ca.pem', 'CA certificate'],
      secrets: [pemBody(pki.inter.keyPem)],
    },
  );
  await expectRejection(loadIdentity({ certificate: file('rsa1024.crt'), privateKey: file('rsa1024.key') }, { clock }), {
    code: 'KEY_UNSUPPORTED',
    mentions: [f('rsa1024.key'), 'RSA key of 1024 bits', '2048 to 4096'],
  });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  expectError(
    () =>
      buildIdentity({
        certData: Buffer.from(pki.leaves['ec-p256'].certPem),
        certLabel: 'file c',
        keyData: privateKey.export({ type: 'pkcs8', format: 'der' }),
        keyLabel: 'file k1.der',
        nowMs: NOW_MS,
      }),
    {
      code: 'KEY_UNSUPPORTED',
      mentions: ['file k1.der', 'secp256k1'],
    },
  );
});

test('a certificate close to expiry loads, with a warning carrying notAfter and daysLeft', async () => {
  const soon = await leaf(pki.inter, { notAfter: new Date(NOW_MS + 3.5 * 24 * 3600 * 1000) });
  const logs: Logged[] = [];
  const id = buildIdentity({
    certData: Buffer.from(soon.certPem),
    certLabel: 'file soon.pem',
    keyData: Buffer.from(soon.keyPem),
    keyLabel: 'file soon.key',
    nowMs: NOW_MS,
    logger: recordingLogger(logs),
  });
  await assertSigns(id);
  const warn = logs.find((l) => l.level === 'warn');
  assert.ok(warn !== undefined);
  assert.equal(warn.fields?.['daysLeft'], 3);
  assert.equal(warn.fields?.['notAfter'], new Date(NOW_MS + 3.5 * 24 * 3600 * 1000).toISOString().replace('.000Z', 'Z'));
  const quiet: Logged[] = [];
  buildIdentity({
    certData: Buffer.from(pki.leaves['ec-p256'].certPem),
    certLabel: 'file c',
    keyData: Buffer.from(pki.leaves['ec-p256'].keyPem),
    nowMs: NOW_MS,
    logger: recordingLogger(quiet),
  });
  assert.equal(quiet.filter((l) => l.level === 'warn').length, 0);
});

test('input and password errors name the source and the flag, never the password', async () => {
  await expectRejection(loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('missing.key') }, { clock }), {
    code: 'FILE_UNREADABLE',
    mentions: [f('missing.key'), 'does not exist', '--private-key'],
  });
  await expectRejection(loadIdentity({ certificate: file('ec-p384.crt'), privateKey: file('ec-p384.enc.pem') }, { clock }), {
    code: 'KEY_PASSWORD_REQUIRED',
    mentions: [f('ec-p384.enc.pem'), '--pkcs8-password'],
  });
  await expectRejection(
    loadIdentity({ certificate: file('ec-p384.crt'), privateKey: file('ec-p384.enc.pem'), password: { kind: 'value', value: 'Wr0ng-pass-77' } }, { clock }),
    {
      code: 'KEY_PASSWORD_WRONG',
      secrets: ['Wr0ng-pass-77', PASSWORD],
    },
  );
  await expectRejection(loadIdentity({ certificate: file('ec-p256.p12'), password: { kind: 'value', value: 'Wr0ng-pass-77' } }, { clock }), {
    code: 'KEY_PASSWORD_WRONG',
    mentions: [f('ec-p256.p12')],
    secrets: ['Wr0ng-pass-77'],
  });
  await expectRejection(
    loadIdentity({ certificate: file('ec-p384.crt'), privateKey: file('ec-p384.enc.pem'), password: { kind: 'file', path: f('nope.txt') } }, { clock }),
    {
      code: 'FILE_UNREADABLE',
      mentions: ['--pkcs8-password-file'],
    },
  );
  await expectRejection(
    loadIdentity({ certificate: file('ec-p256.p12'), privateKey: file('ec-p256.key'), password: { kind: 'value', value: PASSWORD } }, { clock }),
    {
      code: 'CONFIG_INVALID',
      mentions: ['drop --private-key'],
    },
  );
  await expectRejection(loadIdentity({ certificate: file('ec-p256.crt') }, { clock }), { code: 'CONFIG_INVALID', mentions: ['--private-key'] });
  await expectRejection(loadIdentity({ certificate: file('ec-p256.key'), privateKey: file('ec-p256.key') }, { clock }), {
    code: 'CERT_INVALID',
    mentions: [f('ec-p256.key'), 'PRIVATE KEY'],
    secrets: [pemBody(pki.leaves['ec-p256'].keyPem)],
  });
  await expectRejection(loadIdentity({ certificate: file('ec-p256.crt'), privateKey: file('ec-p256.crt') }, { clock }), {
    code: 'KEY_INVALID',
    mentions: [`file ${f('ec-p256.crt')} holds a CERTIFICATE, not a private key`],
  });
  write(dir, 'garbage.pem', '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n');
  await expectRejection(loadIdentity({ certificate: file('garbage.pem'), privateKey: file('ec-p256.key') }, { clock }), {
    code: 'PEM_INVALID',
    mentions: [f('garbage.pem')],
  });
  write(dir, 'truncated.pem', pki.leaves['ec-p256'].certPem.slice(0, 300));
  await expectRejection(loadIdentity({ certificate: file('truncated.pem'), privateKey: file('ec-p256.key') }, { clock }), {
    code: 'PEM_INVALID',
    mentions: [f('truncated.pem'), 'truncated'],
  });
  write(dir, 'notp12.p12', 'this is not a bundle');
  await expectRejection(loadIdentity({ certificate: file('notp12.p12') }, { clock }), { code: 'PKCS12_INVALID', mentions: [f('notp12.p12')] });
  write(dir, 'huge.pem', '');
  truncateSync(f('huge.pem'), MAX_INPUT_BYTES + 1);
  await expectRejection(loadIdentity({ certificate: file('huge.pem'), privateKey: file('ec-p256.key') }, { clock }), {
    code: 'INPUT_TOO_LARGE',
    mentions: [f('huge.pem'), '--certificate'],
  });
});

test('ML-DSA: a clear KEY_UNSUPPORTED before Node 24.7, a working signer after', async () => {
  const cfg = {
    certificate: { kind: 'file' as const, path: join(COMMITTED_DIR, 'mldsa65-cert.pem') },
    privateKey: { kind: 'file' as const, path: join(COMMITTED_DIR, 'mldsa65-key.pem') },
  };
  let supported = true;
  try {
    generateKeyPairSync('ml-dsa-65' as never);
  } catch {
    supported = false;
  }
  if (supported) {
    const id = await loadIdentity(cfg, { clock });
    assert.equal(id.signer.algorithm, 'AWS4-X509-MLDSA');
    await assertSigns(id);
  } else {
    await expectRejection(loadIdentity(cfg, { clock }), {
      code: 'KEY_UNSUPPORTED',
      mentions: ['mldsa65-key.pem', `ML-DSA keys need Node.js >= 24.7; this is ${process.version}`],
    });
    await expectRejection(loadIdentity(cfg, { clock, nodeVersion: 'v24.1.0' }), { code: 'KEY_UNSUPPORTED', mentions: ['this is v24.1.0'] });
  }
});

test('loadCertificateOnly (read-certificate-data) and loadPrivateKey (sign-string)', async () => {
  const info = await loadCertificateOnly({ certificate: file('leaf-root-inter.pem') }, { clock });
  assert.ok(info.certificate.raw.equals(pki.leaves['ec-p256'].cert.raw));
  assert.equal(info.serialDecimal, BigInt(`0x${info.certificate.serialNumber}`).toString(10));
  assert.equal(info.chain.length, 1);
  // No key is read, and a CA or expired certificate is still shown.
  const ca = await loadCertificateOnly({ certificate: file('inter.pem'), privateKey: file('missing.key') }, { clock });
  assert.equal(ca.certificate.ca, true);
  const fromP12 = await loadCertificateOnly({ certificate: file('ec-p256.p12'), password: { kind: 'value', value: PASSWORD } }, { clock });
  assert.ok(fromP12.certificate.raw.equals(pki.leaves['ec-p256'].cert.raw));
  assert.equal(fromP12.chain.length, 1);

  const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'der' });
  const k1 = await loadPrivateKey(
    { certificate: file('missing.crt'), privateKey: file('ec-p384.enc.pem'), password: { kind: 'file', path: f('password.txt') } },
    { clock },
  );
  assert.ok(spki(k1).equals(spki(pki.leaves['ec-p384'].key)));
  const k2 = await loadPrivateKey({ certificate: file('rsa-2048-legacy.pfx'), password: { kind: 'value', value: PASSWORD } }, { clock });
  assert.ok(spki(k2).equals(spki(pki.leaves['rsa-2048'].key)));
  const k3 = await loadPrivateKey({ certificate: file('combined.pem') }, { clock });
  assert.ok(spki(k3).equals(spki(pki.leaves['ec-p384'].key)));
  await expectRejection(loadPrivateKey({ certificate: file('ec-p256.crt') }, { clock }), { code: 'CONFIG_INVALID', mentions: ['--private-key'] });
});
