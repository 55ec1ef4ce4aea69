/**
 * Write failures on a real file system: `update` keeping a credentials file on a small tmpfs
 * that fills up and is remounted read-only, and `credential-process` whose cache directory
 * is read-only. The old file must survive untouched, the cause be logged once with its fix,
 * each failure counted in the metrics, and the next write land by itself once the file
 * system recovers. Needs root (mount); CI runs as root.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, runCli, sessionArgs, startCli, startTestEmulator, tempDir, writePki, type PkiFiles, type RunningCli } from '../helpers/harness.js';
import { logLines, metricValue, metricsText, readyz, waitUntil } from '../helpers/serve-fixture.js';
import { skipOutsideCi } from '../helpers/tools.js';

function canMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: mounting a test file system needs root (CI runs as root)';
  const probe = tempDir('ras-mount-probe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
  if (r.status !== 0) {
    rmSync(probe, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${r.stderr.toString().trim()})`;
  }
  spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return undefined;
}

const NO_MOUNT = skipOutsideCi(canMount());

const mount = (dir: string, opts: string) => execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]);
const remount = (dir: string, opts: string) => execFileSync('mount', ['-o', `remount,${opts}`, dir]);
const umount = (dir: string) => spawnSync('umount', ['-l', dir]);

/** Fills the file system holding `dir` until ENOSPC. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
  return filler;
}

function keyIdIn(file: string): string | undefined {
  const m = /aws_access_key_id\s*=\s*(\S+)/.exec(readFileSync(file, 'utf8'));
  return m?.[1];
}

let pki: PkiFiles;
let work: string;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
const mounts: string[] = [];

describe('write failures on a full or read-only file system', { skip: NO_MOUNT }, () => {
  before(async () => {
    pki = await writePki();
    work = tempDir('ras-writes-');
    // 20 s credentials, refreshed every few seconds: each refresh is a write to fail.
    emu = await startTestEmulator(pki, { credentialLifetimeSeconds: 20 });
  });
  after(async () => {
    for (const m of mounts) umount(m);
    await emu?.stop();
    cleanup(work, pki?.dir);
  });

  test('update: ENOSPC and EROFS leave the file intact, are logged once each, counted, and retried until the write lands', async () => {
    const mnt = join(work, 'fs');
    mkdirSync(mnt);
    mount(mnt, 'size=64k,mode=0700');
    mounts.push(mnt);
    const file = join(mnt, 'credentials');
    const cli: RunningCli = startCli(['update', ...sessionArgs(pki.ec256), '--min-remaining', '5', '--ops-port', '0', '--log-level', 'debug'], {
      env: cliEnv({ ...emu.env, HOME: work, AWS_SHARED_CREDENTIALS_FILE: file }),
    });
    try {
      await cli.waitForStderr(/"msg":"operations listener started"/, 20_000);
      const opsUrl = new URL(String(logLines(cli.stderr()).find((l) => l.msg === 'operations listener started')!.url));
      await waitUntil(() => logLines(cli.stderr()).some((l) => l.msg === 'credentials file updated'), 'the first write', 20_000);
      const before = readFileSync(file, 'utf8');

      // Full: the next refreshes cannot write.
      const filler = fill(mnt);
      await waitUntil(() => logLines(cli.stderr()).some((l) => l.errno === 'ENOSPC' && l.level === 'error'), 'the ENOSPC error', 30_000);
      const full = logLines(cli.stderr()).find((l) => l.errno === 'ENOSPC' && l.level === 'error')!;
      assert.match(String(full.msg), /is full \(ENOSPC\): free space.*previous file is left as it was/);
      assert.equal(readFileSync(file, 'utf8'), before, 'the old file is intact');
      await waitUntil(
        async () => metricValue(await metricsText(opsUrl), 'rolesanywhere_sidecar_file_write_failures_total', { errno: 'ENOSPC' }) >= 2,
        'two counted failures',
        30_000,
      );
      assert.equal((await readyz(opsUrl)).status, 503);
      assert.equal(logLines(cli.stderr()).filter((l) => l.errno === 'ENOSPC' && l.level === 'error').length, 1, 'logged once');

      // Space again: the retry lands by itself, with newer credentials.
      rmSync(filler);
      await waitUntil(
        () => logLines(cli.stderr()).some((l) => l.msg === 'the credentials file written again after failures'),
        'the write after recovery',
        70_000,
      );
      assert.notEqual(keyIdIn(file), undefined);
      await waitUntil(async () => (await readyz(opsUrl)).status === 200, 'ready again', 30_000);

      // Read-only remount: the same, with its own cause.
      const beforeRo = readFileSync(file, 'utf8');
      remount(mnt, 'ro');
      await waitUntil(() => logLines(cli.stderr()).some((l) => l.errno === 'EROFS' && l.level === 'error'), 'the EROFS error', 30_000);
      assert.match(String(logLines(cli.stderr()).find((l) => l.errno === 'EROFS' && l.level === 'error')!.msg), /read-only file system/);
      assert.equal(readFileSync(file, 'utf8'), beforeRo);
      remount(mnt, 'rw');
      const landed = logLines(cli.stderr()).filter((l) => l.msg === 'the credentials file written again after failures').length;
      await waitUntil(
        () => logLines(cli.stderr()).filter((l) => l.msg === 'the credentials file written again after failures').length > landed,
        'the write after the remount',
        70_000,
      );
      assert.ok(metricValue(await metricsText(opsUrl), 'rolesanywhere_sidecar_file_write_failures_total', { errno: 'EROFS' }) >= 1);
      // No temp files left behind by the failed attempts.
      assert.deepEqual(
        execFileSync('ls', ['-A', mnt])
          .toString()
          .split('\n')
          .filter((n) => n !== '' && n !== 'credentials'),
        [],
      );
    } finally {
      await cli.stop();
    }
  });

  test('credential-process: a read-only cache directory still answers, says why once, and keeps the old entry', async () => {
    const mnt = join(work, 'cache-fs');
    mkdirSync(mnt);
    mount(mnt, 'size=64k,mode=0700');
    mounts.push(mnt);
    const env = cliEnv({ ...emu.env, HOME: work });
    const args = ['credential-process', ...sessionArgs(pki.ec256), '--cache-dir', mnt, '--log-level', 'warn', '--log-format', 'json'];
    const first = await runCli(args, { env });
    assert.equal(first.code, 0, first.stderr);
    const entries = execFileSync('ls', [mnt]).toString().trim().split('\n');
    assert.ok(entries.length >= 1);
    const saved = Object.fromEntries(entries.map((n) => [n, readFileSync(join(mnt, n))]));
    remount(mnt, 'ro');
    // 20 s credentials are too short to reuse: a CreateSession, then a cache write that fails.
    const stale = await runCli(args, { env });
    assert.equal(stale.code, 0, stale.stderr);
    assert.match((JSON.parse(stale.stdout) as { AccessKeyId: string }).AccessKeyId, /^ASIA/);
    const warns = logLines(stale.stderr).filter((l) => String(l.msg).startsWith('cannot write the credential cache'));
    assert.equal(warns.length, 1, stale.stderr);
    assert.match(String(warns[0]!.msg), /read-only file system \(EROFS\)/);
    for (const [n, b] of Object.entries(saved)) assert.deepEqual(readFileSync(join(mnt, n)), b, `${n} intact`);
  });
});
