import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { SidecarError, toSidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { LogFields, Logger, LogLevel } from '../core/logger.js';
import { VirtualTime } from '../core/timers.js';
import { createKeySigner } from '../identity/key-signer.js';
import { hashIdentityFiles, IdentityWatcher, type CheckResult } from './identity-watcher.js';

interface Pem {
  cert: string;
  key: string;
  fingerprint: string;
}

async function makeSelfSigned(cn: string, serialHex: string): Promise<Pem> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialHex,
      name: `CN=${cn}`,
      notBefore: new Date(Date.UTC(2025, 0, 1)),
      notAfter: new Date(Date.UTC(2035, 0, 1)),
      signingAlgorithm: alg,
      keys,
    },
    webcrypto,
  );
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { cert: cert.toString('pem'), key, fingerprint: createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex') };
}

/**
 * A minimal loader with real validation (the project's own loader lives in src/identity/):
 * both files must parse and the key must match the certificate.
 */
async function loadIdentity(certPath: string, keyPath: string): Promise<Identity> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (e) {
    throw new SidecarError('PEM_INVALID', `${certPath} does not hold a certificate; check the file`, { cause: e });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new SidecarError('KEY_INVALID', `${keyPath} does not hold a private key; check the file`, { cause: e });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new SidecarError('KEY_CERT_MISMATCH', 'the private key does not match the certificate; check that both files come from the same issuance');
  }
  return {
    certificate,
    chain: [],
    signer: createKeySigner(key),
    serialDecimal: BigInt(`0x${certificate.serialNumber}`).toString(10),
    notBefore: Date.parse(certificate.validFrom),
    notAfter: Date.parse(certificate.validTo),
    fingerprint: createHash('sha256').update(certificate.raw).digest('hex'),
  };
}

class CapturingLogger implements Logger {
  readonly lines: Array<{ level: LogLevel; msg: string; fields: LogFields }> = [];
  debug(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'debug', msg, fields });
  }
  info(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'error', msg, fields });
  }
  child(): Logger {
    return this;
  }
}

let A: Pem;
let B: Pem;

before(async () => {
  A = await makeSelfSigned('workload-a', '0a01');
  B = await makeSelfSigned('workload-b', '0b02');
});

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ra-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writePair(dir: string, pem: Pem): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tls.crt'), pem.cert);
  await writeFile(join(dir, 'tls.key'), pem.key);
}

/** A watcher over dir/tls.crt + dir/tls.key, primed the way the CLI would prime it. */
async function watch(dir: string, opts: { vt?: VirtualTime } = {}) {
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  const reloads: Identity[] = [];
  const failures: string[] = [];
  let loads = 0;
  const logger = new CapturingLogger();
  const load = (): Promise<Identity> => {
    loads++;
    return loadIdentity(certPath, keyPath);
  };
  const hash = await hashIdentityFiles([certPath, keyPath]);
  const initial = await load();
  const watcher = new IdentityWatcher({
    paths: [certPath, keyPath],
    load,
    onReload: (id) => reloads.push(id),
    onReloadFailed: (err) => failures.push(toSidecarError(err).code),
    logger,
    ...(opts.vt !== undefined ? { clock: opts.vt, timers: opts.vt } : { timers: new VirtualTime() }),
  });
  watcher.start({ hash, identity: initial });
  return { watcher, reloads, failures, logger, initial, loadCount: () => loads };
}

test('unchanged files: no load, no reload', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const w = await watch(dir);
  t.after(() => w.watcher.stop());
  assert.equal(w.initial.fingerprint, A.fingerprint);
  assert.equal(await w.watcher.checkNow(), 'unchanged');
  // Rewriting the same bytes changes the mtime but not the content.
  await writePair(dir, A);
  assert.equal(await w.watcher.checkNow(), 'unchanged');
  assert.equal(w.loadCount(), 1, 'only the initial load');
  assert.equal(w.reloads.length, 0);
});

test('in-place rewrite is reloaded; the same certificate re-encoded is not reported as new', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const w = await watch(dir);
  t.after(() => w.watcher.stop());
  await writePair(dir, B);
  assert.equal(await w.watcher.checkNow(), 'reloaded');
  assert.equal(w.reloads.length, 1);
  assert.equal(w.reloads[0]!.fingerprint, B.fingerprint);
  assert.equal(await w.watcher.checkNow(), 'unchanged');
  // Same certificate, different bytes (CRLF line endings): loaded, but no reload.
  await writeFile(join(dir, 'tls.crt'), B.cert.replace(/\n/g, '\r\n'));
  assert.equal(await w.watcher.checkNow(), 'same-identity');
  assert.equal(w.reloads.length, 1);
  // And back to A.
  await writePair(dir, A);
  assert.equal(await w.watcher.checkNow(), 'reloaded');
  assert.equal(w.reloads[1]!.fingerprint, A.fingerprint);
  assert.ok(w.logger.lines.some((l) => l.level === 'info' && l.msg === 'identity reloaded' && l.fields['fingerprint'] === A.fingerprint));
});

test('symlink swap (Kubernetes ..data style) is reloaded', async (t) => {
  const dir = await tempDir(t);
  await writePair(join(dir, 'A'), A);
  await writePair(join(dir, 'B'), B);
  await symlink('A', join(dir, 'current'));
  const w = await watch(join(dir, 'current'));
  t.after(() => w.watcher.stop());
  assert.equal(w.initial.fingerprint, A.fingerprint);
  assert.equal(await w.watcher.checkNow(), 'unchanged');
  // Atomic swap: a new link renamed over the old one; no file's content or mtime changes.
  await symlink('B', join(dir, 'current.tmp'));
  await rename(join(dir, 'current.tmp'), join(dir, 'current'));
  assert.equal(await w.watcher.checkNow(), 'reloaded');
  assert.equal(w.reloads[0]?.fingerprint, B.fingerprint);
  assert.equal(await w.watcher.checkNow(), 'unchanged');
});

test('a half-written certificate keeps the old identity and is retried until complete', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const w = await watch(dir);
  t.after(() => w.watcher.stop());
  // The rotation tool has written the new key, and half of the new certificate.
  await writeFile(join(dir, 'tls.key'), B.key);
  await writeFile(join(dir, 'tls.crt'), B.cert.slice(0, Math.floor(B.cert.length / 2)));
  assert.equal(await w.watcher.checkNow(), 'failed');
  assert.equal(w.reloads.length, 0);
  assert.deepEqual(w.failures, ['PEM_INVALID']);
  const warns = w.logger.lines.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1);
  assert.equal(warns[0]!.fields['code'], 'PEM_INVALID');
  assert.match(String(warns[0]!.fields['message']), /does not hold a certificate/);
  // The same broken content is retried on the next poll (quietly), not remembered as seen.
  assert.equal(await w.watcher.checkNow(), 'failed');
  assert.equal(w.loadCount(), 3);
  assert.equal(w.logger.lines.filter((l) => l.level === 'warn').length, 1, 'one warning per broken state');
  // The rest of the certificate lands.
  await writeFile(join(dir, 'tls.crt'), B.cert);
  assert.equal(await w.watcher.checkNow(), 'reloaded');
  assert.equal(w.reloads[0]?.fingerprint, B.fingerprint);
});

test('a new certificate next to the old key fails as a mismatch until the key follows', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const w = await watch(dir);
  t.after(() => w.watcher.stop());
  await writeFile(join(dir, 'tls.crt'), B.cert);
  assert.equal(await w.watcher.checkNow(), 'failed');
  assert.deepEqual(w.failures, ['KEY_CERT_MISMATCH']);
  await writeFile(join(dir, 'tls.key'), B.key);
  assert.equal(await w.watcher.checkNow(), 'reloaded');
  assert.equal(w.reloads.length, 1);
});

test('a missing file is a failure that keeps the identity; an oversized file is refused', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const w = await watch(dir);
  t.after(() => w.watcher.stop());
  await rm(join(dir, 'tls.crt'));
  assert.equal(await w.watcher.checkNow(), 'failed');
  assert.deepEqual(w.failures, ['FILE_UNREADABLE']);
  await writeFile(join(dir, 'tls.crt'), A.cert);
  assert.equal(await w.watcher.checkNow(), 'unchanged', 'back to the content already in use');
  assert.ok(w.logger.lines.some((l) => l.msg === 'identity files are readable and valid again' && l.fields['failedCode'] === 'FILE_UNREADABLE'));
  assert.equal(w.reloads.length, 0);

  await writeFile(join(dir, 'big'), Buffer.alloc(2048, 0x41));
  await assert.rejects(hashIdentityFiles([join(dir, 'big')], 1024), (e: unknown) => e instanceof SidecarError && e.code === 'INPUT_TOO_LARGE');
  assert.equal((await hashIdentityFiles([join(dir, 'big')], 2048)).length, 64);
});

test('without an initial hash or identity the first check only records a baseline', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const reloads: Identity[] = [];
  const watcher = new IdentityWatcher({
    paths: [join(dir, 'tls.crt'), join(dir, 'tls.key')],
    load: () => loadIdentity(join(dir, 'tls.crt'), join(dir, 'tls.key')),
    onReload: (id) => reloads.push(id),
    timers: new VirtualTime(),
  });
  t.after(() => watcher.stop());
  watcher.start();
  await watcher.settled();
  assert.equal(await watcher.checkNow(), 'unchanged');
  await writePair(dir, B);
  assert.equal(await watcher.checkNow(), 'reloaded');
  assert.equal(reloads[0]?.fingerprint, B.fingerprint);
});

test('polls on its timer, one check at a time, and stop leaves no timer', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const vt = new VirtualTime(Date.UTC(2026, 0, 1));
  const w = await watch(dir, { vt });
  assert.equal(vt.nextAt(), vt.now() + 10_000, 'default poll interval is 10 s');
  await writePair(dir, B);
  vt.advance(9_999);
  await w.watcher.settled();
  assert.equal(w.reloads.length, 0);
  vt.advance(1);
  // checkNow calls made before the timer's check has begun share it: one load, one reload.
  const queued: Promise<CheckResult>[] = [w.watcher.checkNow(), w.watcher.checkNow()];
  assert.equal(queued[0], queued[1]);
  await w.watcher.settled();
  assert.deepEqual(await Promise.all(queued), ['reloaded', 'reloaded']);
  assert.equal(w.loadCount(), 2);
  assert.equal(w.reloads.length, 1, 'the timer-driven poll picked up the rotation');
  assert.equal(w.reloads[0]?.fingerprint, B.fingerprint);
  await vt.runUntilIdle();
  assert.equal(vt.pending(), 1, 're-armed after the poll');
  w.watcher.stop();
  assert.equal(vt.pending(), 0);
  assert.equal(await w.watcher.checkNow(), 'stopped');
});

test('a check requested during a running one runs after it, so a change made meanwhile is not missed', async (t) => {
  const dir = await tempDir(t);
  await writePair(dir, A);
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  let loads = 0;
  let gate: Promise<void> | undefined;
  const reloads: Identity[] = [];
  const watcher = new IdentityWatcher({
    paths: [certPath, keyPath],
    load: async () => {
      loads++;
      if (gate !== undefined) await gate;
      return loadIdentity(certPath, keyPath);
    },
    onReload: (id) => reloads.push(id),
    timers: new VirtualTime(),
  });
  t.after(() => watcher.stop());
  const hash = await hashIdentityFiles([certPath, keyPath]);
  watcher.start({ hash, identity: await loadIdentity(certPath, keyPath) });

  // The first check hashes a half-written state; its load is held until the write completes.
  let release!: () => void;
  gate = new Promise((r) => (release = r));
  await writeFile(keyPath, B.key);
  await writeFile(certPath, B.cert.slice(0, 100));
  const first = watcher.checkNow();
  while (loads < 1) await new Promise((r) => setImmediate(r));
  const second = watcher.checkNow();
  assert.notEqual(first, second, 'a check already running is not shared');
  await writeFile(certPath, B.cert);
  gate = undefined;
  release();
  assert.equal(await first, 'reloaded', 'the loader read the complete files');
  assert.equal(await second, 'same-identity', 'the final content differs from what the first check hashed');
  assert.equal(reloads.length, 1);
  assert.equal(reloads[0]?.fingerprint, B.fingerprint);
  assert.equal(await watcher.checkNow(), 'unchanged');
});
