/**
 * Real AWS SDK clients for integration tests: the image's pyenv Python (botocore 1.43, AWS
 * CLI v1), Debian's Python (botocore 1.29) and AWS CLI v2.9, and JS v3 run as a separate
 * Node process. Each runs with an explicit environment (no inherited AWS_* variables, HOME
 * in a temp dir) so nothing on the machine decides where credentials come from.
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './harness.js';

export interface PythonSdk {
  readonly label: string;
  /** The interpreter itself, not a pyenv shim (a shim needs the real HOME to find pyenv). */
  readonly python: string;
  readonly botocoreVersion: string;
}

export interface AwsCli {
  readonly label: string;
  readonly path: string;
  readonly version: string;
}

function probe(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

const PY_PROBE = 'import sys, botocore; print(sys.executable); print(botocore.__version__)';

function pythonAt(label: string, cmd: string): PythonSdk | undefined {
  const out = probe(cmd, ['-c', PY_PROBE]);
  if (out === undefined) return undefined;
  const [python, botocoreVersion] = out.split('\n');
  if (python === undefined || botocoreVersion === undefined || !existsSync(python)) return undefined;
  return { label, python, botocoreVersion };
}

/** The image's default python3 (pyenv) and Debian's /usr/bin/python3, where they have botocore. */
export function findPythonSdks(): { pyenv?: PythonSdk; debian?: PythonSdk } {
  const pyenv = pythonAt('pyenv python3', 'python3');
  const debian = existsSync('/usr/bin/python3') ? pythonAt('Debian /usr/bin/python3', '/usr/bin/python3') : undefined;
  return {
    ...(pyenv !== undefined && pyenv.python !== debian?.python ? { pyenv } : {}),
    ...(debian !== undefined ? { debian } : {}),
  };
}

function cliAt(label: string, path: string): AwsCli | undefined {
  if (!existsSync(path)) return undefined;
  const version = probe(path, ['--version'], { PATH: process.env.PATH, HOME: process.env.HOME, AWS_PAGER: '' });
  return version === undefined ? undefined : { label, path, version };
}

/** AWS CLI v1 beside the pyenv interpreter, and Debian's /usr/bin/aws (v2.9). */
export function findAwsClis(py = findPythonSdks()): { v1?: AwsCli; debian?: AwsCli } {
  const v1 = py.pyenv !== undefined ? cliAt('AWS CLI v1 (pyenv)', join(dirname(py.pyenv.python), 'aws')) : undefined;
  const debian = cliAt('Debian /usr/bin/aws', '/usr/bin/aws');
  return { ...(v1 !== undefined ? { v1 } : {}), ...(debian !== undefined ? { debian } : {}) };
}

/**
 * A clean environment for an SDK process: PATH, HOME (a temp dir) and empty config and
 * credential files, plus `extra`. AWS_PAGER is empty so AWS CLI v2 never starts `less`.
 */
export function sdkEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_CONFIG_FILE: join(home, 'aws-config-none'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws-credentials-none'),
    AWS_PAGER: '',
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (never rejects for a non-zero exit). */
export function runProgram(cmd: string, args: readonly string[], o: { env: Record<string, string>; timeoutMs?: number; cwd?: string }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { env: o.env, timeout: o.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, ...(o.cwd !== undefined ? { cwd: o.cwd } : {}) },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        if (e !== null && typeof e.code === 'string') {
          reject(e);
          return;
        }
        resolve({ code: child.exitCode, signal: child.signalCode, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/**
 * botocore: STS GetCallerIdentity through the default credential chain (or the profile in
 * AWS_PROFILE). Prints one JSON line: the ARN and the provider botocore picked.
 */
export const BOTOCORE_STS_PY = `
import json, sys
import botocore.session
endpoint = sys.argv[1]
s = botocore.session.get_session()
creds = s.get_credentials()
if creds is None:
    print(json.dumps({"error": "no credentials found"}))
    sys.exit(3)
c = s.create_client("sts", region_name="us-east-1", endpoint_url=endpoint)
r = c.get_caller_identity()
print(json.dumps({"arn": r["Arn"], "method": creds.method, "accessKeyId": creds.get_frozen_credentials().access_key}))
`;

/**
 * JS v3: STS GetCallerIdentity with the default provider chain, `count` times `intervalMs`
 * apart (a long job). Prints one JSON line: successes, failures, distinct access keys, ARN.
 * The SDK is loaded from the repository's node_modules, wherever the script is written.
 * AWS_CA_BUNDLE, when set, is the CA of an HTTPS endpoint (JS v3 does not read it itself).
 */
export function jsStsScript(): string {
  const pkg = JSON.stringify(join(REPO_ROOT, 'package.json'));
  return `
const { createRequire } = require('node:module');
const fs = require('node:fs');
const https = require('node:https');
const req = createRequire(${pkg});
const { STSClient, GetCallerIdentityCommand } = req('@aws-sdk/client-sts');
const { fromNodeProviderChain } = req('@aws-sdk/credential-providers');
const { NodeHttpHandler } = req('@smithy/node-http-handler');
const [endpoint, countArg, intervalArg] = process.argv.slice(2);
const count = Number(countArg || '1');
const intervalMs = Number(intervalArg || '0');
const ca = process.env.AWS_CA_BUNDLE;
const provider = fromNodeProviderChain();
const client = new STSClient({
  region: 'us-east-1',
  endpoint,
  credentials: provider,
  maxAttempts: 1,
  ...(ca ? { requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: fs.readFileSync(ca) }) }) } : {}),
});
(async () => {
  const keys = new Set();
  const errors = [];
  let ok = 0;
  let arn;
  for (let i = 0; i < count; i++) {
    const started = Date.now();
    try {
      const creds = await client.config.credentials();
      keys.add(creds.accessKeyId);
      const r = await client.send(new GetCallerIdentityCommand({}));
      arn = r.Arn;
      ok++;
    } catch (e) {
      errors.push(String((e && e.name) || '') + ': ' + String((e && e.message) || e).slice(0, 300));
    }
    if (i + 1 < count) await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
  }
  process.stdout.write(JSON.stringify({ ok, failed: errors.length, errors: errors.slice(0, 5), distinctKeys: keys.size, arn }) + '\\n');
  process.exitCode = errors.length === 0 ? 0 : 1;
})();
`;
}

/** Writes a script into `dir` and returns its path. */
export function writeScript(dir: string, name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o755 });
  return p;
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or times out. */
export async function pollFor<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Every descendant of `pid` (children first found through /proc/<pid>/task/<tid>/children). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let kids: string;
      try {
        kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.split(/\s+/).filter((s) => s !== '')) {
        out.push(Number(k));
        visit(Number(k));
      }
    }
  };
  visit(pid);
  return out;
}

/**
 * SIGKILLs a process and everything it started. A grandchild that outlives the CLI keeps
 * the CLI's stdout pipe open, so waiting for 'close' would never end: cleanup must reach it.
 */
export function killTree(proc: ChildProcess, alsoPids: readonly number[] = []): void {
  if (proc.pid === undefined) return;
  // `alsoPids`: descendants seen earlier, which are orphans (not found under proc) once proc died.
  const all = [...alsoPids, ...descendants(proc.pid), proc.pid];
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Sends `signal` and waits for the process to EXIT (not for its pipes to close, which a
 * surviving grandchild would prevent); SIGKILLs the whole tree after `timeoutMs`.
 */
export async function signalAndWait(
  proc: ChildProcess,
  signal: NodeJS.Signals,
  timeoutMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  let killed = false;
  if (!exited()) {
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          killed = true;
          killTree(proc);
          resolve();
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await done;
  }
  return { code: proc.exitCode, signal: proc.signalCode, killed };
}
