/**
 * Runs test/independent-verifier/verifier.py (a Python + openssl CLI implementation of
 * CreateSession verification, written from the spec, sharing no code with the sidecar) as a
 * child process, and a raw HTTP(S) client that sends exactly the bytes a test gives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.js';
import { skipOutsideCi } from './tools.js';
import { DEFAULT_PROFILE_ARN, DEFAULT_REGION, DEFAULT_ROLE_ARN, DEFAULT_TRUST_ANCHOR_ARN } from '../../src/emulator/index.js';

export const VERIFIER_PY = join(REPO_ROOT, 'test', 'independent-verifier', 'verifier.py');

/** Debian's interpreter when present, else whatever `python3` is on PATH (the verifier is stdlib only). */
export function verifierPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/**
 * Every python3 on this machine the verifier can run under (both, when both exist). Under
 * CI, where both are installed, a missing one fails instead of shrinking the list.
 */
export function availablePythons(): string[] {
  const out: string[] = [];
  const pyenv = join(process.env.HOME ?? '/root', '.pyenv', 'shims', 'python3');
  for (const python of ['/usr/bin/python3', pyenv]) {
    if (existsSync(python)) out.push(python);
    else skipOutsideCi(`${python} is not installed`);
  }
  if (out.length === 0) out.push('python3');
  return out;
}

export interface VerifierOptions {
  readonly trustAnchorPath: string;
  readonly region: string;
  readonly trustAnchorArn: string;
  readonly profileArn: string;
  readonly roleArn: string;
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /** Verify as if the time were this X-Amz-Date value (for captured requests). */
  readonly now?: string;
  readonly maxDuration?: number;
  readonly python?: string;
}

export interface VerifierLogEntry {
  readonly status: number;
  readonly errorType?: string;
  readonly message?: string;
  readonly algorithm?: string;
  readonly serial?: string;
  readonly chainLength?: number;
  readonly signedHeaders?: string[];
  readonly durationSeconds?: number;
  readonly host?: string;
}

export interface RunningVerifier {
  /** `http(s)://127.0.0.1:<port>` without a trailing slash. */
  readonly endpoint: string;
  readonly proc: ChildProcess;
  /** Decisions so far (the verifier's GET /__verifier/log). */
  log(ca?: string | Buffer): Promise<VerifierLogEntry[]>;
  stderr(): string;
  stop(): Promise<void>;
}

/** The CLI flags that send CreateSession to `v` started by startDefaultVerifier. */
export function defaultVerifierArgs(v: RunningVerifier): string[] {
  return ['--endpoint', v.endpoint, '--trust-anchor-arn', DEFAULT_TRUST_ANCHOR_ARN, '--profile-arn', DEFAULT_PROFILE_ARN, '--role-arn', DEFAULT_ROLE_ARN];
}

/** The verifier with the emulator's default region, trust anchor, profile and role ARNs. */
export function startDefaultVerifier(trustAnchorPath: string, extra: Partial<VerifierOptions> = {}): Promise<RunningVerifier> {
  return startVerifier({
    trustAnchorPath,
    region: DEFAULT_REGION,
    trustAnchorArn: DEFAULT_TRUST_ANCHOR_ARN,
    profileArn: DEFAULT_PROFILE_ARN,
    roleArn: DEFAULT_ROLE_ARN,
    ...extra,
  });
}

export async function startVerifier(o: VerifierOptions): Promise<RunningVerifier> {
  // The verifier exits when its stdin closes, so a test process that dies without its
  // after() hooks (a crash, a kill) does not leave it running.
  const args = [
    VERIFIER_PY,
    '--exit-on-stdin-eof',
    '--trust-anchor',
    o.trustAnchorPath,
    '--region',
    o.region,
    '--trust-anchor-arn',
    o.trustAnchorArn,
    '--profile-arn',
    o.profileArn,
    '--role-arn',
    o.roleArn,
  ];
  if (o.tls) args.push('--tls-cert', o.tls.certPath, '--tls-key', o.tls.keyPath);
  if (o.now !== undefined) args.push('--now', o.now);
  if (o.maxDuration !== undefined) args.push('--max-duration', String(o.maxDuration));
  const proc = spawn(o.python ?? verifierPython(), args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    if (err.length > 100_000) err = err.slice(-50_000);
  });
  proc.stdin.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const first = await new Promise<{ port: number; scheme: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`verifier did not start; stderr:\n${err}`)), 15_000);
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)) as { port: number; scheme: string });
        } catch (e) {
          reject(e);
        }
      }
    });
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`verifier exited (${code}) before printing its port; stderr:\n${err}`));
    });
  });
  const endpoint = `${first.scheme}://127.0.0.1:${first.port}`;
  return {
    endpoint,
    proc,
    log: async (ca) => {
      const r = await rawRequest(`${endpoint}/__verifier/log`, { method: 'GET', ...(ca !== undefined ? { ca } : {}) });
      return JSON.parse(r.body.toString('utf8')) as VerifierLogEntry[];
    },
    stderr: () => err,
    stop: async () => {
      proc.stdin.end();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * One request with exactly these headers (a given Host is sent as is, so a captured request
 * can be replayed byte for byte) and body.
 */
export function rawRequest(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca?: string | Buffer } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  const body = o.body === undefined ? undefined : Buffer.from(o.body);
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) headers['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const opts = {
      method: o.method ?? 'POST',
      hostname: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      headers,
      agent: false as const,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
