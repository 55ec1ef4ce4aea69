/**
 * `exec [session flags] -- <cmd>` end to end: the real CLI runs real AWS clients (AWS CLI v1
 * and v2.9, botocore old and new, JS v3) against the emulator, passes exit statuses and
 * signals through, keeps a long job's credentials fresh, and leaves no secret on a command
 * line or on disk.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, cliEnv, runCli, sessionArgs, startCli, startTestEmulator, tempDir, writePki, type LeafFiles, type PkiFiles } from '../helpers/harness.js';
import { httpRequest } from '../helpers/serve-fixture.js';
import {
  BOTOCORE_STS_PY,
  findAwsClis,
  findPythonSdks,
  descendants,
  jsStsScript,
  killTree,
  sdkEnv,
  signalAndWait,
  writeScript,
  type AwsCli,
  type PythonSdk,
} from '../helpers/e2e-exec-support.js';
import { unavailable } from '../helpers/tools.js';

type Emulator = Awaited<ReturnType<typeof startTestEmulator>>;

let pki: PkiFiles;
let https: Emulator;
let http: Emulator;
let shortLived: Emulator;
let work: string;
let jsScript: string;
let pyScript: string;
const pythons = findPythonSdks();
const clis = findAwsClis(pythons);
const ASSUMED_ROLE = /^arn:aws:sts::123456789012:assumed-role\/[A-Za-z0-9+=,.@_-]+\/[A-Za-z0-9+=,.@_-]+$/;

before(async () => {
  pki = await writePki();
  work = tempDir('ras-exec-');
  https = await startTestEmulator(pki, { https: true });
  http = await startTestEmulator(pki);
  // Lifetime 15 s: the sidecar refreshes every ~5 s, so a 36 s job outlives several credentials.
  shortLived = await startTestEmulator(pki, { credentialLifetimeSeconds: 15 });
  jsScript = writeScript(work, 'sts-v3.cjs', jsStsScript());
  pyScript = writeScript(work, 'sts-botocore.py', BOTOCORE_STS_PY);
});

after(async () => {
  await Promise.all([https?.stop(), http?.stop(), shortLived?.stop()]);
  cleanup(work, pki.dir, ...homes);
});

/** exec's own arguments: ec256 (signed by the root) needs no intermediates. */
function execArgs(cmd: readonly string[], leaf: LeafFiles = pki.ec256, extra: readonly string[] = []): string[] {
  return ['exec', ...sessionArgs(leaf), '--log-level', 'warn', ...extra, '--', ...cmd];
}

/** The environment exec gets (and hands on to the child, less ROLESANYWHERE_*): SDK-clean, HOME in a temp dir. */
const homes: string[] = [];
function execEnv(emu: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  const home = tempDir('ras-exec-home-');
  homes.push(home);
  return sdkEnv(home, { ...emu.env, ...(emu.url.protocol === 'https:' ? { AWS_CA_BUNDLE: emu.env.ROLESANYWHERE_CA_BUNDLE } : {}), ...extra });
}

function endpointOf(emu: Emulator): string {
  return emu.url.href.replace(/\/$/, '');
}

/** The ARN must be one the emulator issued (not just well-formed). */
function assertIssued(emu: Emulator, arn: string | undefined): void {
  assert.ok(arn !== undefined && ASSUMED_ROLE.test(arn), `not an assumed-role ARN: ${arn}`);
  assert.ok(
    emu.issued().some((r) => r.assumedRoleArn === arn),
    `ARN ${arn} was not issued by this emulator`,
  );
}

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d).sort()) {
      const rel = `${prefix}${name}`;
      out.push(rel);
      if (statSync(join(d, name)).isDirectory()) walk(join(d, name), `${rel}/`);
    }
  };
  walk(dir, '');
  return out;
}

function procEnviron(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`).toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

describe('exec end to end', { concurrency: 2 }, () => {
  // The long job mostly sleeps: run it beside the others rather than after them.
  test('(f) a job longer than one credential lifetime keeps working (JS v3 polling STS every second for 36 s)', async () => {
    const count = 36;
    const r = await runCli(execArgs([process.execPath, jsScript, endpointOf(shortLived), String(count), '1000']), {
      env: execEnv(shortLived),
      timeoutMs: 90_000,
    });
    assert.equal(r.code, 0, `exec failed: ${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: number; failed: number; errors: string[]; distinctKeys: number; arn?: string };
    assert.equal(out.failed, 0, `failed calls: ${out.errors.join(' | ')}`);
    assert.equal(out.ok, count);
    // The job saw the sidecar's refreshes: more than one credential over its run.
    assert.ok(out.distinctKeys >= 2, `only ${out.distinctKeys} distinct access keys over ${count} s with 15 s credentials`);
    assert.ok(shortLived.issued().length >= 3, `only ${shortLived.issued().length} CreateSession calls`);
    assertIssued(shortLived, out.arn);
  });

  describe('one-shot commands', { concurrency: 1 }, () => {
    for (const key of ['v1', 'debian'] as const) {
      test(`(a) ${key === 'v1' ? 'AWS CLI v1 (pyenv)' : 'AWS CLI v2.9 (Debian /usr/bin/aws)'}: sts get-caller-identity over HTTPS`, async (t) => {
        const cli: AwsCli | undefined = clis[key];
        if (cli === undefined) {
          unavailable(t, `${key === 'v1' ? 'aws (pyenv)' : '/usr/bin/aws'} is not installed here; CI installs it via .ci/run`);
          return;
        }
        const r = await runCli(
          execArgs([cli.path, 'sts', 'get-caller-identity', '--endpoint-url', endpointOf(https), '--region', 'us-east-1', '--output', 'json']),
          {
            env: execEnv(https),
          },
        );
        assert.equal(r.code, 0, `${cli.version}: ${r.stdout}\n${r.stderr}`);
        const ident = JSON.parse(r.stdout) as { Arn?: string; Account?: string };
        assert.equal(ident.Account, '123456789012');
        assertIssued(https, ident.Arn);
      });
    }

    for (const key of ['pyenv', 'debian'] as const) {
      test(`(b) botocore (${key === 'pyenv' ? 'pyenv python3' : 'Debian python3-botocore'}): default chain -> container endpoint, and IMDS without it`, async (t) => {
        const py: PythonSdk | undefined = pythons[key];
        if (py === undefined) {
          unavailable(
            t,
            `${key === 'pyenv' ? 'python3 with botocore' : '/usr/bin/python3 with python3-botocore'} is not installed here; CI installs it via .ci/run`,
          );
          return;
        }
        const r = await runCli(execArgs([py.python, pyScript, endpointOf(https)]), { env: execEnv(https) });
        assert.equal(r.code, 0, `botocore ${py.botocoreVersion}: ${r.stdout}\n${r.stderr}`);
        const out = JSON.parse(r.stdout.trim()) as { arn: string; method: string };
        // The container provider comes before IMDS in botocore's chain.
        assert.equal(out.method, 'container-role');
        assertIssued(https, out.arn);

        // Without the container variables botocore falls through to the IMDS endpoint exec also serves.
        const viaImds = await runCli(
          execArgs(['env', '-u', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', '-u', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', py.python, pyScript, endpointOf(https)]),
          { env: execEnv(https) },
        );
        assert.equal(viaImds.code, 0, `botocore ${py.botocoreVersion} via IMDS: ${viaImds.stdout}\n${viaImds.stderr}`);
        const imdsOut = JSON.parse(viaImds.stdout.trim()) as { arn: string; method: string };
        assert.equal(imdsOut.method, 'iam-role');
        assertIssued(https, imdsOut.arn);
      });
    }

    test('(c) JS v3 default provider chain + STSClient, over HTTP and over HTTPS (CA from AWS_CA_BUNDLE)', async () => {
      for (const emu of [http, https]) {
        const r = await runCli(execArgs([process.execPath, jsScript, endpointOf(emu), '1', '0']), { env: execEnv(emu) });
        assert.equal(r.code, 0, `${emu.url.protocol}: ${r.stdout}\n${r.stderr}`);
        const out = JSON.parse(r.stdout.trim()) as { ok: number; arn?: string };
        assert.equal(out.ok, 1);
        assertIssued(emu, out.arn);
      }
    });

    test('(c) the RSA leaf with its intermediate bundle works the same', async () => {
      const r = await runCli(execArgs([process.execPath, jsScript, endpointOf(http), '1', '0'], pki.rsa, ['--intermediates', pki.intermediatePem]), {
        env: execEnv(http),
      });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const arn = (JSON.parse(r.stdout.trim()) as { arn?: string }).arn;
      assertIssued(http, arn);
      assert.equal(http.issued().find((x) => x.assumedRoleArn === arn)?.fingerprint, createHash('sha256').update(pki.rsa.issued.cert.raw).digest('hex'));
    });

    test('(d) exit statuses pass through; a signal death is reported as 128 + signal number', async () => {
      const env = execEnv(http);
      const seven = await runCli(execArgs(['sh', '-c', 'exit 7']), { env });
      assert.equal(seven.code, 7, seven.stderr);
      const zero = await runCli(execArgs(['true']), { env });
      assert.equal(zero.code, 0, zero.stderr);
      const term = await runCli(execArgs(['sh', '-c', 'kill -TERM $$']), { env });
      assert.equal(term.code, 128 + 15, term.stderr);
      const usr1 = await runCli(execArgs(['sh', '-c', 'kill -USR1 $$']), { env });
      assert.equal(usr1.code, 128 + 10, usr1.stderr);
    });

    test('(d) a missing command, or none, is a clear one-line error', async () => {
      const env = execEnv(http);
      const missing = await runCli(execArgs(['/nonexistent/definitely-not-a-command', '--flag']), { env });
      // 127 and 126, as a shell reports a command it cannot find or run.
      assert.equal(missing.code, 127);
      assert.match(
        missing.stderr,
        /^rolesanywhere-sidecar: cannot run "\/nonexistent\/definitely-not-a-command" \(ENOENT\): check the command name, its permissions and PATH \[COMMAND_NOT_FOUND\]$/m,
      );
      const notOnPath = await runCli(execArgs(['definitely-not-a-command-xyz']), { env });
      assert.equal(notOnPath.code, 127);
      assert.match(notOnPath.stderr, /cannot run "definitely-not-a-command-xyz" \(ENOENT\).*\[COMMAND_NOT_FOUND\]/);
      const notExecutable = await runCli(execArgs([pki.ec256.cert]), { env });
      assert.equal(notExecutable.code, 126);
      assert.match(notExecutable.stderr, /\(EACCES\).*\[COMMAND_NOT_EXECUTABLE\]/);
      const none = await runCli(['exec', ...sessionArgs(pki.ec256), '--'], { env });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /exec needs a command: rolesanywhere-sidecar exec \[flags\] -- <command> \[args\.\.\.\] \[CONFIG_INVALID\]/);
    });

    for (const [signal, status] of [
      ['SIGTERM', 42],
      ['SIGINT', 43],
      ['SIGHUP', 44],
    ] as const) {
      test(`(e) ${signal} to exec reaches the child; exec exits with the child's status`, async (t) => {
        const name = signal.slice(3);
        const script = `trap 'echo "child got ${name}"; exit ${status}' ${name}; echo ready; while :; do sleep 0.1; done`;
        const cli = startCli(execArgs(['sh', '-c', script]), { env: execEnv(http) });
        let seen: number[] = [];
        t.after(() => killTree(cli.proc, seen));
        const [first] = await cli.waitForLines(1);
        assert.equal(first, 'ready');
        seen = descendants(cli.proc.pid!);
        const r = await signalAndWait(cli.proc, signal);
        assert.equal(r.killed, false, `exec did not exit within 15 s of ${signal}; stderr:\n${cli.stderr()}`);
        assert.equal(r.signal, null, `exec itself died of ${r.signal}`);
        assert.equal(r.code, status, cli.stderr());
        await cli.exited();
        assert.match(cli.stdout(), new RegExp(`^child got ${name}$`, 'm'));
      });
    }

    test('(e) SIGTERM during start-up (CreateSession still pending) ends exec with 143 and never runs the command', async (t) => {
      http.faults.enqueue({ delayMs: 4_000 });
      t.after(() => http.faults.clear());
      const marker = join(work, 'startup-ran');
      const cli = startCli(['exec', ...sessionArgs(pki.ec256), '--log-level', 'info', '--', 'sh', '-c', `touch ${marker}`], { env: execEnv(http) });
      t.after(() => killTree(cli.proc));
      await cli.waitForStderr(/"sidecar started"/);
      const r = await signalAndWait(cli.proc, 'SIGTERM');
      assert.equal(r.killed, false, cli.stderr());
      assert.equal(r.signal, null, 'exec died of the signal instead of handling it');
      assert.equal(r.code, 128 + 15, cli.stderr());
      assert.equal(existsSync(marker), false, 'the command ran although exec was stopped first');
    });

    test('(g) no secret on any command line, in the logs or on disk; the token is only in the child environment', async (t) => {
      const tmp = tempDir('ras-exec-tmpdir-');
      const home = tempDir('ras-exec-home-');
      t.after(() => cleanup(tmp, home));
      const env = sdkEnv(home, { ...http.env, TMPDIR: tmp });
      const before = { tmp: listTree(tmp), home: listTree(home) };
      const cli = startCli(['exec', ...sessionArgs(pki.ec256), '--debug', '--', 'sh', '-c', 'echo "pid $$"; while :; do sleep 0.1; done'], { env });
      let seen: number[] = [];
      t.after(() => killTree(cli.proc, seen));
      const [line] = await cli.waitForLines(1);
      seen = descendants(cli.proc.pid!);
      const childPid = Number(/^pid (\d+)$/.exec(line ?? '')?.[1]);
      assert.ok(Number.isInteger(childPid) && childPid > 0, `no child pid in ${line}`);

      const childEnv = procEnviron(childPid);
      const token = childEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN;
      assert.ok(token !== undefined && token.length >= 16, 'the child has no container token');
      assert.equal(childEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, undefined, 'exec must not write the token to a file');
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
        assert.equal(childEnv[k], undefined, `${k} in the child environment`);
      assert.deepEqual(
        Object.keys(childEnv).filter((k) => k.startsWith('ROLESANYWHERE_')),
        [],
        'ROLESANYWHERE_* leaked to the child',
      );
      assert.match(childEnv.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/);

      // What the token unlocks: the credentials themselves. node:http, as the SDKs use:
      // Node's fetch sends `Sec-Fetch-Mode: cors`, which the browser guard refuses.
      const res = await httpRequest(childEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI!, { headers: { authorization: token } });
      assert.equal(res.status, 200);
      const creds = JSON.parse(res.body) as { AccessKeyId: string; SecretAccessKey: string; Token: string };
      const secrets = [token, creds.SecretAccessKey, creds.Token];

      // Every command line on the machine, exec's and the child's included.
      const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
      assert.ok(pids.includes(String(cli.proc.pid)) && pids.includes(String(childPid)));
      for (const pid of pids) {
        let cmdline: string;
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`).toString('utf8');
        } catch {
          continue; // exited meanwhile
        }
        for (const s of secrets) assert.ok(!cmdline.includes(s), `a secret is on the command line of pid ${pid}`);
      }
      // Nothing written where exec could write: its TMPDIR and HOME are as they were.
      assert.deepEqual({ tmp: listTree(tmp), home: listTree(home) }, before);

      const r = await signalAndWait(cli.proc, 'SIGTERM');
      assert.equal(r.code, 128 + 15, cli.stderr());
      await cli.exited();
      assert.deepEqual({ tmp: listTree(tmp), home: listTree(home) }, before);
      // --debug logs plenty, but never a secret.
      assert.ok(cli.stderr().length > 0);
      for (const s of secrets) assert.ok(!cli.stderr().includes(s), 'a secret is in the debug log');
    });
  });
});

test('exec refuses flags that are not its own', async () => {
  const r = await runCli(['exec', '--port', '0', '--', 'true'], { env: cliEnv() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown flag --port for exec/);
});
