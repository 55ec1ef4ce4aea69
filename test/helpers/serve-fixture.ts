/**
 * `serve` as a child process plus plain-HTTP clients for its endpoints: the export lines
 * parsed, the container token read from its file, the ops URL taken from the start-up log,
 * and helpers that fetch credentials the way an SDK does and check every answer.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { cliEnv, parseExports, startCli, type RunningCli } from './harness.js';

export interface ServeHandle {
  readonly cli: RunningCli;
  /** The `export` lines, parsed. */
  readonly exports: Record<string, string>;
  /** Content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ('' with --no-container). */
  readonly token: string;
  readonly imds?: URL;
  readonly container?: URL;
  readonly ops?: URL;
  /** The stdout lines that are `export` lines, verbatim. */
  readonly exportLines: readonly string[];
}

export interface StartServeOptions {
  /** Extra environment for the sidecar (e.g. the emulator's ROLESANYWHERE_* variables). */
  readonly env?: Record<string, string | undefined>;
  /** How many export lines to wait for (3 with both endpoints and a token file). */
  readonly exportLines?: number;
  /** The CLI as an executable of its own (single executable, installed bin) instead of the compiled script. */
  readonly executable?: string;
}

interface StartedLog {
  msg?: string;
  listeners?: Record<string, string>;
}

/** The listener URLs from the "sidecar started" line, in either log format. */
function startedListeners(stderr: string): Record<string, string> {
  const json = logLines(stderr).find((l) => l.msg === 'sidecar started') as StartedLog | undefined;
  if (json?.listeners !== undefined) return json.listeners;
  const text = stderr.split('\n').find((l) => l.includes('"sidecar started"'));
  const m = text !== undefined ? / listeners=(\{[^}]*\})/.exec(text) : null;
  return m ? (JSON.parse(m[1]!) as Record<string, string>) : {};
}

/** Parses JSON log lines from stderr, skipping anything that is not JSON. */
export function logLines(stderr: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return out;
}

/** Starts `serve` on ephemeral ports and waits for its export lines and its start-up log line. */
export async function startServe(args: readonly string[], o: StartServeOptions = {}): Promise<ServeHandle> {
  const cli = startCli(['serve', '--port', '0', '--container-port', '0', '--ops-port', '0', ...args], {
    env: cliEnv(o.env ?? {}),
    ...(o.executable !== undefined ? { executable: o.executable } : {}),
  });
  try {
    const lines = await cli.waitForLines(o.exportLines ?? 3);
    await cli.waitForStderr(/"msg":"sidecar started"|"sidecar started"/);
    const exports = parseExports(lines);
    const listeners = startedListeners(cli.stderr());
    const tokenFile = exports.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
    return {
      cli,
      exports,
      exportLines: lines,
      token: tokenFile !== undefined ? readFileSync(tokenFile, 'utf8') : '',
      ...(listeners.imds !== undefined ? { imds: new URL(listeners.imds) } : {}),
      ...(exports.AWS_CONTAINER_CREDENTIALS_FULL_URI !== undefined ? { container: new URL(exports.AWS_CONTAINER_CREDENTIALS_FULL_URI) } : {}),
      ...(listeners.ops !== undefined ? { ops: new URL(listeners.ops) } : {}),
    };
  } catch (e) {
    await cli.stop('SIGKILL');
    throw e;
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request on a fresh connection (no keep-alive pool left behind after a test). */
export function httpRequest(url: URL | string, o: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false, timeout: o.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${String(url)} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function imdsToken(imds: URL, ttlSeconds = 21600): Promise<string> {
  const r = await httpRequest(new URL('latest/api/token', imds), { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) } });
  if (r.status !== 200) throw new Error(`IMDS token PUT answered ${r.status}: ${r.body}`);
  return r.body;
}

/** The credentials document from IMDS (the role is listed first, as SDKs do). */
export async function imdsCredentials(imds: URL, token: string): Promise<HttpAnswer> {
  const list = await httpRequest(new URL('latest/meta-data/iam/security-credentials/', imds), { headers: { 'x-aws-ec2-metadata-token': token } });
  if (list.status !== 200) return list;
  return httpRequest(new URL(`latest/meta-data/iam/security-credentials/${list.body}`, imds), { headers: { 'x-aws-ec2-metadata-token': token } });
}

export function containerCredentials(container: URL, token: string | undefined): Promise<HttpAnswer> {
  return httpRequest(container, { headers: token !== undefined ? { authorization: token } : {} });
}

export interface ServedCredentials {
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly Token: string;
  readonly Expiration: string;
}

/**
 * Checks a 200 credentials answer: every field non-empty, Expiration in the future (by this
 * host's clock, which the sidecar shares). Returns the parsed document.
 */
export function assertServable(a: HttpAnswer, what: string, nowMs = Date.now()): ServedCredentials {
  if (a.status !== 200) throw new Error(`${what}: expected 200, got ${a.status}: ${a.body}`);
  const doc = JSON.parse(a.body) as Partial<ServedCredentials> & { Code?: string };
  for (const k of ['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration'] as const) {
    if (typeof doc[k] !== 'string' || doc[k] === '') throw new Error(`${what}: empty or missing ${k} in a 200 answer`);
  }
  const exp = Date.parse(doc.Expiration!);
  if (!Number.isFinite(exp) || exp <= nowMs)
    throw new Error(`${what}: served credentials expiring at ${doc.Expiration}, not after now (${new Date(nowMs).toISOString()})`);
  return doc as ServedCredentials;
}

export async function readyz(ops: URL): Promise<HttpAnswer> {
  return httpRequest(new URL('readyz', ops));
}

export async function metricsText(ops: URL): Promise<string> {
  const r = await httpRequest(new URL('metrics', ops));
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.body;
}

/** Sum of a Prometheus metric's samples whose labels contain every `labels` pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
