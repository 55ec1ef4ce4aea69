/**
 * `update` end to end: the shared credentials file is written atomically (mode 0600, no
 * temp files left, a concurrent reader never sees a partial file), every other line is kept
 * byte for byte, real SDKs read the profile, and the continuous mode rewrites on refresh,
 * survives an outage with retries and stops cleanly on SIGTERM (the official helper's loop
 * died on the first failure and rewrote the file in place).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isoSeconds } from '../../src/core/clock.js';
import { cleanup, cliEnv, runCli, sessionArgs, startCli, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import {
  BOTOCORE_STS_PY,
  findPythonSdks,
  jsStsScript,
  killTree,
  pollFor,
  runProgram,
  sdkEnv,
  signalAndWait,
  writeScript,
} from '../helpers/e2e-exec-support.js';
import { unavailable } from '../helpers/tools.js';

type Emulator = Awaited<ReturnType<typeof startTestEmulator>>;

const OWNED = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'x_security_token_expires'];
const pythons = findPythonSdks();

let pki: PkiFiles;
let emu: Emulator;
let work: string;

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki);
  work = tempDir('ras-update-');
});

after(async () => {
  await emu?.stop();
  cleanup(work, pki.dir);
});

function updateArgs(extra: readonly string[] = []): string[] {
  return ['update', ...sessionArgs(pki.ec256), '--log-level', 'warn', ...extra];
}

/** Key/value pairs of one `[name]` section (the first, as the SDKs read it). */
function section(text: string, name: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let inside = false;
  let found = false;
  for (const line of text.split(/\r?\n/)) {
    const sec = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (sec) {
      if (found && inside) break;
      inside = sec[1] === name;
      found ||= inside;
      continue;
    }
    const kv = /^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (inside && kv) out[kv[1]!] = kv[2]!;
  }
  return found ? out : undefined;
}

/** The text with the lines `update` owns removed from section `name`: what must stay byte-identical. */
function withoutOwned(text: string, name: string): string {
  let inside = false;
  return text
    .split('\n')
    .filter((line) => {
      const sec = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
      if (sec) inside = sec[1] === name;
      const key = /^\s*([A-Za-z0-9_.-]+)\s*=/.exec(line)?.[1];
      return !(inside && key !== undefined && OWNED.includes(key));
    })
    .join('\n');
}

function issuedFor(e: Emulator, accessKeyId: string | undefined) {
  const r = e.issued().find((x) => x.accessKeyId === accessKeyId);
  assert.ok(r !== undefined, `access key ${accessKeyId} was not issued by the emulator`);
  return r;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

const HAND_WRITTEN = [
  '# Hand-written; the sidecar must keep every line it does not own.',
  '[default]',
  'region = eu-west-1',
  'aws_access_key_id = AKIAOLDOLDOLDOLDOLD1',
  '; a comment between the keys',
  'aws_secret_access_key = old/secret+value',
  'output = json',
  '',
  '[other]',
  'aws_access_key_id = AKIAOTHEROTHEROTHER1',
  'aws_secret_access_key = other-secret',
  '  indented_key   =   odd spacing kept  ',
  '',
  '# between sections',
  '[with spaces]',
  'aws_access_key_id = AKIASPACESSPACESSPA1',
  'aws_secret_access_key = spaces-secret',
  '',
].join('\n');

test('update --once writes [default] atomically with mode 0600 and keeps every other byte; --profile ci adds a profile the SDKs use', async (t) => {
  const dir = join(work, 'once');
  const home = join(work, 'once-home');
  for (const d of [dir, home]) assert.equal(existsSync(d), false);
  mkdirSync(dir);
  mkdirSync(home);
  const file = join(dir, 'credentials');
  writeFileSync(file, HAND_WRITTEN, { mode: 0o644 });
  const env = cliEnv({ ...emu.env, HOME: home, AWS_SHARED_CREDENTIALS_FILE: file });

  const r = await runCli(updateArgs(['--once']), { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const first = readFileSync(file, 'utf8');
  assert.equal(mode(file), 0o600, 'the credentials file must be private');
  assert.deepEqual(readdirSync(dir), ['credentials'], 'a temp file was left behind');
  assert.deepEqual(readdirSync(home), [], 'nothing is written to HOME when AWS_SHARED_CREDENTIALS_FILE is set');
  assert.equal(withoutOwned(first, 'default'), withoutOwned(HAND_WRITTEN, 'default'), 'a line update does not own changed');
  const def = section(first, 'default')!;
  const issued = issuedFor(emu, def.aws_access_key_id);
  assert.ok((def.aws_secret_access_key ?? '').length >= 20 && def.aws_secret_access_key !== 'old/secret+value');
  assert.ok((def.aws_session_token ?? '').length >= 20);
  assert.equal(def.x_security_token_expires, isoSeconds(issued.expiration));
  assert.equal(def.region, 'eu-west-1');
  assert.equal(def.output, 'json');
  assert.equal(section(first, 'other')?.aws_access_key_id, 'AKIAOTHEROTHEROTHER1');

  const r2 = await runCli(updateArgs(['--once', '--profile', 'ci']), { env });
  assert.equal(r2.code, 0, r2.stderr);
  const second = readFileSync(file, 'utf8');
  assert.equal(mode(file), 0o600);
  assert.deepEqual(readdirSync(dir), ['credentials']);
  // Everything written before stays byte for byte; the new profile is appended.
  assert.ok(second.startsWith(first), 'writing [ci] changed the rest of the file');
  assert.match(
    second.slice(first.length),
    /^\n\[ci\]\naws_access_key_id = \S+\naws_secret_access_key = \S+\naws_session_token = \S+\nx_security_token_expires = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/,
  );
  const ci = section(second, 'ci')!;
  assert.notEqual(ci.aws_access_key_id, def.aws_access_key_id);
  assert.equal(ci.x_security_token_expires, isoSeconds(issuedFor(emu, ci.aws_access_key_id).expiration));

  // The SDKs read the profile and STS accepts it.
  const sdkHome = tempDir('ras-update-sdk-');
  const py = writeScript(sdkHome, 'sts.py', BOTOCORE_STS_PY);
  const js = writeScript(sdkHome, 'sts.cjs', jsStsScript());
  const sdk = sdkEnv(sdkHome, { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'ci' });
  const endpoint = emu.url.href.replace(/\/$/, '');
  try {
    const checked: string[] = [];
    for (const [label, p] of [
      ['pyenv python3 with botocore', pythons.pyenv],
      ['/usr/bin/python3 with python3-botocore', pythons.debian],
    ] as const) {
      if (p === undefined) {
        unavailable(t, `${label} is not installed (CI installs it)`);
        continue;
      }
      const out = await runProgram(p.python, [py, endpoint], { env: sdk });
      assert.equal(out.code, 0, `botocore ${p.botocoreVersion}: ${out.stdout}\n${out.stderr}`);
      const got = JSON.parse(out.stdout.trim()) as { arn: string; method: string; accessKeyId: string };
      assert.equal(got.method, 'shared-credentials-file');
      assert.equal(got.accessKeyId, ci.aws_access_key_id);
      assert.equal(got.arn, issuedFor(emu, ci.aws_access_key_id).assumedRoleArn);
      checked.push(`botocore ${p.botocoreVersion}`);
    }
    const jsOut = await runProgram(process.execPath, [js, endpoint, '1', '0'], { env: sdk });
    assert.equal(jsOut.code, 0, `${jsOut.stdout}\n${jsOut.stderr}`);
    assert.equal((JSON.parse(jsOut.stdout.trim()) as { arn?: string }).arn, issuedFor(emu, ci.aws_access_key_id).assumedRoleArn);
    checked.push('JS v3');
    assert.ok(checked.length >= 2, `only ${checked.join(', ')} could be checked`);
  } finally {
    cleanup(sdkHome);
  }
});

test('update --once without AWS_SHARED_CREDENTIALS_FILE creates ~/.aws/credentials (dir 0700, file 0600)', async () => {
  const home = tempDir('ras-update-home-');
  try {
    const r = await runCli(updateArgs(['--once']), { env: cliEnv({ ...emu.env, HOME: home }) });
    assert.equal(r.code, 0, r.stderr);
    const file = join(home, '.aws', 'credentials');
    assert.equal(mode(join(home, '.aws')), 0o700);
    assert.equal(mode(file), 0o600);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\[default\]\naws_access_key_id = \S+\naws_secret_access_key = \S+\naws_session_token = \S+\nx_security_token_expires = \S+\n$/);
    issuedFor(emu, section(text, 'default')?.aws_access_key_id);
  } finally {
    cleanup(home);
  }
});

test('update --once: errors are one line with a code, and the file is left untouched', async () => {
  const dir = tempDir('ras-update-err-');
  try {
    const file = join(dir, 'credentials');
    writeFileSync(file, HAND_WRITTEN, { mode: 0o600 });
    emu.faults.enqueue({ status: 403, body: JSON.stringify({ message: 'denied by test' }) });
    const r = await runCli(updateArgs(['--once']), { env: cliEnv({ ...emu.env, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file }) });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^rolesanywhere-sidecar: .+ \[SERVICE_ACCESS_DENIED\]$/m);
    assert.equal(readFileSync(file, 'utf8'), HAND_WRITTEN);
    const bad = await runCli(updateArgs(['--once', '--profile', 'no[brackets]']), {
      env: cliEnv({ ...emu.env, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file }),
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a usable profile name.*\[CONFIG_INVALID\]/);
    assert.equal(readFileSync(file, 'utf8'), HAND_WRITTEN);
  } finally {
    emu.faults.clear();
    cleanup(dir);
  }
});

test('update (continuous): rewrites on refresh, retries through an outage without exiting, recovers, exits 0 on SIGTERM', async (t) => {
  // 6 s credentials: refreshed every ~2 s.
  const short = await startTestEmulator(pki, { credentialLifetimeSeconds: 6 });
  const dir = tempDir('ras-update-loop-');
  t.after(async () => {
    await short.stop();
    cleanup(dir);
  });
  const file = join(dir, 'credentials');
  writeFileSync(file, HAND_WRITTEN, { mode: 0o600 });
  const cli = startCli(['update', ...sessionArgs(pki.ec256), '--log-level', 'info'], {
    env: cliEnv({ ...short.env, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file }),
  });
  t.after(() => killTree(cli.proc));
  const keyNow = () => section(readFileSync(file, 'utf8'), 'default')?.aws_access_key_id;
  const seen = new Set<string>(['AKIAOLDOLDOLDOLDOLD1']);
  const nextKey = (what: string, timeoutMs = 20_000) =>
    pollFor(
      () => {
        const k = keyNow();
        return k !== undefined && !seen.has(k) ? k : undefined;
      },
      what,
      timeoutMs,
    ).then((k) => {
      seen.add(k);
      issuedFor(short, k);
      return k;
    });

  await nextKey('the first write');
  await nextKey('a rewrite on refresh');
  assert.equal(withoutOwned(readFileSync(file, 'utf8'), 'default'), withoutOwned(HAND_WRITTEN, 'default'));

  // Outage: CreateSession answers 503. The loop keeps retrying and the file keeps the last good credentials.
  const failuresBefore = (cli.stderr().match(/"msg":"credential refresh failed/g) ?? []).length;
  short.faults.setOutage(true);
  await pollFor(
    () => ((cli.stderr().match(/"msg":"credential refresh failed/g) ?? []).length >= failuresBefore + 2 ? true : undefined),
    'two failed refreshes during the outage',
    30_000,
  );
  assert.equal(cli.proc.exitCode, null, `update exited during the outage:\n${cli.stderr()}`);
  const during = readFileSync(file, 'utf8');
  assert.ok(seen.has(section(during, 'default')!.aws_access_key_id!), 'the file lost the last good credentials during the outage');
  assert.ok(short.stats().createSession.faulted >= 2);

  short.faults.setOutage(false);
  await nextKey('a write after the outage ends', 40_000);
  await cli.waitForStderr(/"msg":"credentials refreshed after failures"/, 10_000);
  assert.equal(cli.proc.exitCode, null);
  assert.equal(mode(file), 0o600);
  assert.deepEqual(readdirSync(dir), ['credentials']);

  const r = await signalAndWait(cli.proc, 'SIGTERM');
  assert.equal(r.killed, false, cli.stderr());
  assert.equal(r.signal, null);
  assert.equal(r.code, 0, cli.stderr());
});

test('update (continuous) follows certificate rotation, and SIGHUP re-reads the files without ending the process', async (t) => {
  const dir = tempDir('ras-update-rotate-');
  t.after(() => cleanup(dir));
  const cert = join(dir, 'workload.pem');
  const key = join(dir, 'workload.key');
  writeFileSync(cert, readFileSync(pki.ec256.cert));
  writeFileSync(key, readFileSync(pki.ec256.key), { mode: 0o600 });
  const file = join(dir, 'credentials');
  const cli = startCli(
    ['update', '--certificate', cert, '--private-key', key, '--identity-poll-interval', '1', '--rotation-jitter', '0', '--log-level', 'info'],
    {
      env: cliEnv({ ...emu.env, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file }),
    },
  );
  t.after(() => killTree(cli.proc));
  const fingerprintInFile = () => {
    if (!existsSync(file)) return undefined;
    const k = section(readFileSync(file, 'utf8'), 'default')?.aws_access_key_id;
    return emu.issued().find((x) => x.accessKeyId === k)?.fingerprint;
  };
  const fp = (l: { issued: { cert: { raw: Buffer } } }) => createHash('sha256').update(l.issued.cert.raw).digest('hex');
  assert.equal(await pollFor(fingerprintInFile, 'the first write'), fp(pki.ec256));

  // SIGHUP with nothing changed: the process stays up and the file is not rewritten.
  const before = readFileSync(file, 'utf8');
  cli.proc.kill('SIGHUP');
  await cli.waitForStderr(/"msg":"SIGHUP: checking the certificate and key files"/, 10_000);
  assert.equal(cli.proc.exitCode, null);
  assert.equal(cli.proc.signalCode, null);
  assert.equal(readFileSync(file, 'utf8'), before);

  // Rotate: the new key first, then the certificate (each file replaced by rename).
  const rotated = await pki.leaf('rotated-ec256', 'ec-p256', { underRoot: true });
  writeFileSync(`${key}.new`, readFileSync(rotated.key), { mode: 0o600 });
  renameSync(`${key}.new`, key);
  writeFileSync(`${cert}.new`, readFileSync(rotated.cert));
  renameSync(`${cert}.new`, cert);
  assert.equal(
    await pollFor(() => (fingerprintInFile() === fp(rotated) ? fp(rotated) : undefined), 'a write with the rotated certificate', 20_000),
    fp(rotated),
  );
  await cli.waitForStderr(/"msg":"certificate reloaded; refreshing credentials with the new identity"/, 5_000);

  const r = await signalAndWait(cli.proc, 'SIGTERM');
  assert.equal(r.code, 0, cli.stderr());
});

/**
 * A reader in another process, in a tight loop: every read must be a complete file (the
 * hand-written header and trailer, the filler, and all four keys of [default]).
 */
const READER_JS = `
const fs = require('node:fs');
const [file, stopFile, header, trailer, minLenArg] = process.argv.slice(2);
const minLen = Number(minLenArg);
let reads = 0, bad = 0;
const samples = [];
const keys = new Set();
const deadline = Date.now() + 90000;
const keyRe = (k) => new RegExp('\\\\n' + k + ' = (\\\\S+)\\\\n');
while (!fs.existsSync(stopFile) && Date.now() < deadline) {
  let t;
  try {
    t = fs.readFileSync(file, 'utf8');
  } catch (e) {
    bad++;
    if (samples.length < 5) samples.push('read error ' + e.code);
    continue;
  }
  reads++;
  const start = t.indexOf('\\n[default]\\n');
  const end = start < 0 ? -1 : t.indexOf('\\n[', start + 1);
  const def = start < 0 ? '' : t.slice(start, end < 0 ? undefined : end + 1);
  const vals = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'x_security_token_expires'].map((k) => keyRe(k).exec(def));
  const ok = t.startsWith(header + '\\n') && t.endsWith(trailer + '\\n') && t.length >= minLen && vals.every((m) => m !== null);
  if (!ok) {
    bad++;
    if (samples.length < 5) samples.push('length ' + t.length);
  } else keys.add(vals[0][1]);
}
process.stdout.write(JSON.stringify({ reads, bad, samples, distinctKeys: keys.size }) + '\\n');
`;

test('a concurrent reader never sees a partial credentials file during many rewrites', async (t) => {
  const short = await startTestEmulator(pki, { credentialLifetimeSeconds: 6 });
  const dir = tempDir('ras-update-reader-');
  t.after(async () => {
    await short.stop();
    cleanup(dir);
  });
  const file = join(dir, 'credentials');
  const header = '# header line: must be the first line of every read';
  const trailer = '# trailer line: must be the last line of every read';
  // ~400 KB of other profiles: a truncate-then-write writer would be caught half-way.
  const filler: string[] = [];
  for (let i = 0; filler.join('\n').length < 400_000; i++) {
    filler.push(`[filler-${i}]`, `aws_access_key_id = AKIAFILLER${String(i).padStart(10, '0')}`, `aws_secret_access_key = ${'x'.repeat(40)}`, '');
  }
  const initial = [header, '[default]', ...OWNED.map((k) => `${k} = initial`), '', ...filler, trailer, ''].join('\n');
  writeFileSync(file, initial, { mode: 0o600 });
  const readerScript = writeScript(dir, 'reader.cjs', READER_JS);
  const stopFile = join(dir, 'stop-reader');
  const reader = runProgram(process.execPath, [readerScript, file, stopFile, header, trailer, String(initial.length - 200)], {
    env: cliEnv(),
    timeoutMs: 120_000,
  });

  const env = cliEnv({ ...short.env, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file });
  // Two writers: the continuous loop (a rewrite every ~2 s) and a run of --once invocations.
  const loop = startCli(['update', ...sessionArgs(pki.ec256), '--log-level', 'warn'], { env });
  t.after(() => killTree(loop.proc));
  const onceRuns = 6;
  for (let i = 0; i < onceRuns; i++) {
    const r = await runCli(updateArgs(['--once']), { env });
    assert.equal(r.code, 0, r.stderr);
  }
  writeFileSync(stopFile, '');
  const result = await reader;
  assert.equal(result.code, 0, result.stderr);
  const stats = JSON.parse(result.stdout.trim()) as { reads: number; bad: number; samples: string[]; distinctKeys: number };
  assert.equal(stats.bad, 0, `partial reads: ${stats.samples.join(', ')}`);
  assert.ok(stats.reads > 50, `the reader only managed ${stats.reads} reads`);
  assert.ok(stats.distinctKeys >= 2, 'the reader never saw a rewrite');
  assert.ok(short.issued().length >= onceRuns);

  const stop = await signalAndWait(loop.proc, 'SIGTERM');
  assert.equal(stop.code, 0, loop.stderr());
  const final = readFileSync(file, 'utf8');
  assert.ok(final.startsWith(`${header}\n[default]\n`) && final.endsWith(`${trailer}\n`));
  assert.deepEqual(readdirSync(dir).sort(), ['credentials', 'reader.cjs', 'stop-reader']);
});
