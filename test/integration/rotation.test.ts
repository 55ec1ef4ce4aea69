/**
 * Certificate rotation while `serve` runs: files rewritten in place, a Kubernetes-style
 * `..data` symlink swap, and a half-written certificate before the complete one. The
 * emulator's issued-session records name the certificate each CreateSession was signed
 * with, so the test sees exactly when the new certificate is used. Throughout, clients poll
 * both endpoints and every answer must carry valid credentials: a rotation (broken or not)
 * never interrupts serving.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { CredentialPoller } from '../helpers/credential-poller.js';
import { cleanup, startTestEmulator, tempDir, writePki, type LeafFiles, type PkiFiles } from '../helpers/harness.js';
import { logLines, metricsText, metricValue, readyz, startServe, waitUntil, type ServeHandle } from '../helpers/serve-fixture.js';

const RELOADS = 'rolesanywhere_sidecar_identity_reloads_total';
/** A complete rotation must be used by a CreateSession within this (poll interval 1 s). */
const PROMPT_MS = 10_000;

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let leaves: LeafFiles[];
let work: string;

before(async () => {
  pki = await writePki();
  // Default lifetime (1 h): no scheduled refresh during the test, so every CreateSession
  // after start-up is one a rotation caused.
  emu = await startTestEmulator(pki);
  // EC P-256 leaves under the root (no intermediates file to rotate alongside); each test
  // uses its own, since the tests run side by side against one emulator.
  leaves = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => pki.leaf(`rot-${i}`, 'ec-p256', { underRoot: true })));
  work = tempDir('ras-rotation-');
});

after(async () => {
  await emu?.stop();
  cleanup(work, pki?.dir);
});

const fingerprint = (leaf: LeafFiles): string => createHash('sha256').update(leaf.issued.cert.raw).digest('hex');

/** Sessions issued for these leaves only: the tests run side by side against one emulator. */
function issuedFor(...ls: LeafFiles[]): ReturnType<typeof emu.issued> {
  const fps = new Set(ls.map(fingerprint));
  return emu.issued().filter((r) => fps.has(r.fingerprint));
}

function issuedWith(leaf: LeafFiles): number {
  const fp = fingerprint(leaf);
  return emu.issued().filter((r) => r.fingerprint === fp).length;
}

/** Waits until a CreateSession signed with `leaf` arrives; returns how long it took. */
async function waitForSessionWith(leaf: LeafFiles, what: string, timeoutMs = PROMPT_MS): Promise<number> {
  const from = Date.now();
  await waitUntil(() => issuedWith(leaf) > 0, `a CreateSession signed with the ${what} certificate`, timeoutMs, 50);
  return Date.now() - from;
}

interface Running {
  readonly serve: ServeHandle;
  readonly poller: CredentialPoller;
}

async function startWith(t: TestContext, cert: string, key: string, extra: readonly string[] = []): Promise<Running> {
  const serve = await startServe(['--certificate', cert, '--private-key', key, '--identity-poll-interval', '1', '--rotation-jitter', '0', ...extra], {
    env: emu.env,
  });
  t.after(() => serve.cli.stop());
  await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
  const poller = new CredentialPoller(serve.imds!, serve.container!, serve.token, 50);
  poller.start();
  t.after(() => poller.stop());
  // Clients are being served before anything is rotated.
  await waitUntil(() => poller.count((x) => x.status === 200) >= 10, 'clients served');
  return { serve, poller };
}

/** The newest AccessKeyId the pollers were served. */
function servedKey(p: CredentialPoller): string | undefined {
  for (let i = p.records.length - 1; i >= 0; i--) if (p.records[i]!.status === 200) return p.records[i]!.accessKeyId;
  return undefined;
}

/** The key of the newest session the emulator issued for `leaf`. */
function newestKeyFor(leaf: LeafFiles): string | undefined {
  const fp = fingerprint(leaf);
  return emu
    .issued()
    .filter((r) => r.fingerprint === fp)
    .pop()?.accessKeyId;
}

async function assertStillServingAfter(t: TestContext, r: Running, leaf: LeafFiles): Promise<void> {
  // Clients move to the credentials from the new certificate's session.
  await waitUntil(() => servedKey(r.poller) === newestKeyFor(leaf), 'clients served the new session', 5_000, 50);
  await r.poller.stop();
  assert.deepEqual(r.poller.violations, []);
  assert.equal(
    r.poller.count((x) => x.status !== 200),
    0,
    'every answer during the rotation was 200',
  );
  assert.equal(r.serve.cli.proc.exitCode, null, 'the sidecar never exited');
  t.diagnostic(`${r.poller.records.length} client answers during the rotation, all 200`);
}

describe('certificate rotation while serving', { concurrency: true }, () => {
  test('in place, then a half-written certificate before the complete one', async (t) => {
    const dir = join(work, 'in-place');
    mkdirSync(dir);
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const [l1, l2, l3] = [leaves[0]!, leaves[1]!, leaves[2]!];
    writeFileSync(cert, l1.issued.certPem);
    writeFileSync(key, l1.issued.keyPem, { mode: 0o600 });
    const r = await startWith(t, cert, key);
    assert.ok(issuedWith(l1) >= 1);
    const pid = r.serve.cli.proc.pid;

    // (a) Rewritten in place, certificate first: for a moment the new certificate sits
    // next to the old key, which must fail quietly and be retried.
    writeFileSync(cert, l2.issued.certPem);
    writeFileSync(key, l2.issued.keyPem, { mode: 0o600 });
    t.diagnostic(`in-place rotation used after ${await waitForSessionWith(l2, 'rewritten')} ms`);

    // (c) A truncated certificate: reload fails, serving goes on with the old identity.
    const failuresBefore = metricValue(await metricsText(r.serve.ops!), RELOADS, { result: 'failure' });
    writeFileSync(cert, l3.issued.certPem.slice(0, Math.floor(l3.issued.certPem.length / 2)));
    await r.serve.cli.waitForStderr(/identity reload failed; keeping the current identity/, 10_000);
    await waitUntil(
      async () => metricValue(await metricsText(r.serve.ops!), RELOADS, { result: 'failure' }) > failuresBefore,
      'a failed reload counted',
      10_000,
    );
    // Several polls with the broken file: no CreateSession with it, still serving.
    const issuedBefore = issuedFor(l1, l2, l3).length;
    await new Promise((res) => setTimeout(res, 2_500));
    assert.equal(issuedFor(l1, l2, l3).length, issuedBefore, 'a broken certificate causes no CreateSession');
    assert.equal((await readyz(r.serve.ops!)).status, 200);

    // Now the complete certificate and its key.
    writeFileSync(cert, l3.issued.certPem);
    writeFileSync(key, l3.issued.keyPem, { mode: 0o600 });
    t.diagnostic(`completed rotation used after ${await waitForSessionWith(l3, 'completed')} ms`);
    // The newest session is the new certificate's, and nothing was signed with a broken one.
    const last = issuedFor(l1, l2, l3).at(-1)!;
    assert.equal(last.fingerprint, fingerprint(l3));
    assert.equal(last.serialDecimal, BigInt(`0x${l3.issued.cert.serialNumber}`).toString(10));

    await assertStillServingAfter(t, r, l3);
    assert.equal(r.serve.cli.proc.pid, pid);
    const metrics = await metricsText(r.serve.ops!);
    assert.ok(metricValue(metrics, RELOADS, { result: 'success' }) >= 2, 'two successful reloads counted');
    assert.ok(metricValue(metrics, RELOADS, { result: 'failure' }) >= 1, 'failed reloads counted');
    const reloaded = logLines(r.serve.cli.stderr()).filter((l) => l.msg === 'certificate reloaded; refreshing credentials with the new identity');
    assert.deepEqual(
      reloaded.map((l) => l.fingerprint),
      [fingerprint(l2), fingerprint(l3)],
    );
  });

  test('Kubernetes-style ..data symlink swap', async (t) => {
    const dir = join(work, 'projected');
    mkdirSync(dir);
    const [l1, l2] = [leaves[3]!, leaves[4]!];
    const version = (name: string, leaf: LeafFiles): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'tls.crt'), leaf.issued.certPem);
      writeFileSync(join(dir, name, 'tls.key'), leaf.issued.keyPem, { mode: 0o600 });
    };
    version('..2026_01_01_00_00_00.000000001', l1);
    symlinkSync('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    const r = await startWith(t, join(dir, 'tls.crt'), join(dir, 'tls.key'));
    const before = issuedWith(l2);

    // What the kubelet does: a new timestamped dir, a new symlink, renamed over ..data.
    version('..2026_01_02_00_00_00.000000002', l2);
    symlinkSync('..2026_01_02_00_00_00.000000002', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2026_01_01_00_00_00.000000001'), { recursive: true });
    t.diagnostic(`symlink swap used after ${await waitForSessionWith(l2, 'swapped')} ms`);
    assert.equal(before, 0);
    assert.equal(issuedFor(l1, l2).at(-1)!.fingerprint, fingerprint(l2));
    await assertStillServingAfter(t, r, l2);
    assert.ok(metricValue(await metricsText(r.serve.ops!), RELOADS, { result: 'success' }) >= 1);
  });

  test('SIGHUP checks the files at once (poll interval of an hour)', async (t) => {
    const dir = join(work, 'sighup');
    mkdirSync(dir);
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const [l1, l2] = [leaves[5]!, leaves[6]!];
    writeFileSync(cert, l1.issued.certPem);
    writeFileSync(key, l1.issued.keyPem, { mode: 0o600 });
    const serve = await startServe(['--certificate', cert, '--private-key', key, '--identity-poll-interval', '3600', '--rotation-jitter', '0'], {
      env: emu.env,
    });
    t.after(() => serve.cli.stop());
    await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
    const usedBefore = issuedWith(l2);
    writeFileSync(cert, l2.issued.certPem);
    writeFileSync(key, l2.issued.keyPem, { mode: 0o600 });
    serve.cli.proc.kill('SIGHUP');
    await serve.cli.waitForStderr(/SIGHUP: checking the certificate and key files/, 5_000);
    await waitUntil(() => issuedWith(l2) > usedBefore, 'a CreateSession with the new certificate after SIGHUP', PROMPT_MS, 50);
    assert.ok(metricValue(await metricsText(serve.ops!), RELOADS, { result: 'success' }) >= 1);
  });

  test('by default the refresh after a rotation is spread over --rotation-jitter (a fleet-wide rotation is no herd)', async (t) => {
    const dir = join(work, 'jitter');
    mkdirSync(dir);
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const [l1, l2] = [leaves[7]!, leaves[8]!];
    writeFileSync(cert, l1.issued.certPem);
    writeFileSync(key, l1.issued.keyPem, { mode: 0o600 });
    const serve = await startServe(['--certificate', cert, '--private-key', key, '--identity-poll-interval', '3600', '--rotation-jitter', '120'], {
      env: emu.env,
    });
    t.after(() => serve.cli.stop());
    await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
    writeFileSync(cert, l2.issued.certPem);
    writeFileSync(key, l2.issued.keyPem, { mode: 0o600 });
    serve.cli.proc.kill('SIGHUP');
    await waitUntil(() => logLines(serve.cli.stderr()).some((l) => l.msg === 'refresh planned with jitter'), 'the planned refresh');
    const planned = logLines(serve.cli.stderr()).find((l) => l.msg === 'refresh planned with jitter')!;
    assert.equal(planned.reason, 'identity-reload');
    assert.ok(typeof planned.inMs === 'number' && planned.inMs >= 0 && planned.inMs <= 120_000, String(planned.inMs));
    // The old credentials are served meanwhile, and /readyz stays ready.
    assert.equal((await readyz(serve.ops!)).status, 200);
  });
});
