/**
 * Real AWS SDK clients run as child processes, each with an explicit environment: what
 * `serve` printed plus a private HOME and config paths, so nothing from this machine's
 * ~/.aws or AWS_* variables leaks in. Each client resolves credentials from the sidecar and
 * calls STS GetCallerIdentity on the emulator that issued them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './harness.js';

/** Where the emulator's STS is and, for HTTPS, the CA that signed its TLS certificate. */
export interface StsTarget {
  readonly url: string;
  readonly caPath?: string;
}

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What every client script prints on success. */
export interface CallerIdentity {
  readonly arn: string;
  readonly accessKeyId: string;
  readonly expiration?: string;
  /** botocore's credential provider method (`iam-role`, `container-role`). */
  readonly method?: string;
  readonly botocore?: string;
}

export const DEBIAN_PYTHON = '/usr/bin/python3';
/** AWS CLI v2.9 from Debian's awscli package (its own copy of botocore). */
export const DEBIAN_AWS = '/usr/bin/aws';

const JS_V3 = fileURLToPath(new URL('./sdk/js-v3-client.js', import.meta.url));
const JS_V2 = fileURLToPath(new URL('./sdk/js-v2-client.js', import.meta.url));
/** Python scripts are not compiled: they live in the source tree. */
const PY_STS = join(REPO_ROOT, 'test', 'helpers', 'py', 'sts_identity.py');

export function runProcess(file: string, args: readonly string[], env: Record<string, string>, timeoutMs = 30_000): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      resolve({
        code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
        signal: e?.signal ?? null,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

/**
 * A clean environment for an SDK: PATH (with `binDir` first when given), a private HOME,
 * config and credentials files that do not exist, and `vars` (the sidecar's lines).
 */
export function sdkEnv(home: string, vars: Record<string, string | undefined>, binDir?: string): Record<string, string> {
  const path = process.env.PATH ?? '/usr/bin:/bin';
  const env: Record<string, string> = {
    PATH: binDir !== undefined ? `${binDir}:${path}` : path,
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-such-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-such-credentials'),
    LANG: 'C.UTF-8',
  };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  return env;
}

/** Parses the one JSON line a client script prints, or throws with everything it said. */
export function identityFrom(what: string, r: ProcessResult): CallerIdentity {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) {
    throw new Error(`${what} failed (exit ${r.code ?? r.signal}):\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-4000)}`);
  }
  return JSON.parse(line) as CallerIdentity;
}

export type JsV3Mode = 'imds' | 'container' | 'http' | 'chain';
export type JsV2Mode = 'ec2' | 'ecs' | 'chain';

export async function jsV3(mode: JsV3Mode, env: Record<string, string>, sts: StsTarget): Promise<CallerIdentity> {
  const r = await runProcess(process.execPath, [JS_V3, mode, sts.url, sts.caPath ?? ''], env);
  return identityFrom(`JS v3 (${mode})`, r);
}

export async function jsV2(mode: JsV2Mode, env: Record<string, string>, sts: StsTarget): Promise<CallerIdentity> {
  // The v2 SDK prints a maintenance notice on load; it is noise here.
  const r = await runProcess(process.execPath, [JS_V2, mode, sts.url, sts.caPath ?? ''], { ...env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' });
  return identityFrom(`JS v2 (${mode})`, r);
}

/** boto3's default chain in `python`; TLS trust from AWS_CA_BUNDLE as in real use. */
export async function boto3(python: string, env: Record<string, string>, sts: StsTarget): Promise<CallerIdentity> {
  const r = await runProcess(python, [PY_STS, sts.url], { ...env, ...(sts.caPath !== undefined ? { AWS_CA_BUNDLE: sts.caPath } : {}) });
  return identityFrom(`boto3 (${python})`, r);
}

/** `aws sts get-caller-identity`; `--debug` so the log shows which endpoint answered. */
export async function awsCli(command: readonly string[], env: Record<string, string>, sts: StsTarget): Promise<{ arn: string; debug: string }> {
  const [file, ...pre] = command;
  const r = await runProcess(file!, [...pre, 'sts', 'get-caller-identity', '--endpoint-url', sts.url, '--region', 'us-east-1', '--output', 'json', '--debug'], {
    ...env,
    AWS_PAGER: '',
    ...(sts.caPath !== undefined ? { AWS_CA_BUNDLE: sts.caPath } : {}),
  });
  if (r.code !== 0) throw new Error(`${command.join(' ')} failed (exit ${r.code ?? r.signal}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-6000)}`);
  const doc = JSON.parse(r.stdout) as { Arn: string };
  return { arn: doc.Arn, debug: r.stderr };
}

/**
 * The pyenv interpreter that `python3` on PATH resolves to (botocore 1.43, AWS CLI v1 beside
 * it), as an absolute path, so the clients can run with a private HOME (pyenv shims need the
 * real one). Undefined when there is none.
 */
export async function findPyenvPython(): Promise<{ python: string; aws?: string } | undefined> {
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) inherited[k] = v;
  const r = await runProcess('python3', ['-c', 'import sys, botocore; print(sys.executable)'], inherited, 15_000);
  const python = r.stdout.trim();
  if (r.code !== 0 || python === '' || python.startsWith('/usr/bin/')) return undefined;
  const aws = join(dirname(python), 'aws');
  return existsSync(aws) ? { python, aws } : { python };
}

/** Debian's botocore 1.29 (python3-botocore, python3-boto3) under /usr/bin/python3, if installed. */
export async function hasDebianBotocore(): Promise<boolean> {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  const r = await runProcess(DEBIAN_PYTHON, ['-c', 'import boto3, botocore'], { PATH: '/usr/bin:/bin' }, 15_000);
  return r.code === 0;
}

/** AWS CLI v2.9 from Debian (/usr/bin/aws with its awscli package), if installed. */
export async function hasDebianAwsCli(): Promise<boolean> {
  if (!existsSync(DEBIAN_AWS) || !existsSync(DEBIAN_PYTHON)) return false;
  const r = await runProcess(DEBIAN_PYTHON, ['-c', 'import awscli.clidriver'], { PATH: '/usr/bin:/bin' }, 15_000);
  return r.code === 0;
}
