/**
 * Processes the benchmarks and the soak drive: the emulator and the sidecar as real CLI
 * processes, the bare node:http ceiling, plus small HTTP and /proc readers. The load
 * generator (autocannon, in the calling process) never shares a process with a server.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CLI, REPO_ROOT, cliEnv, parseExports, startCli, watchProcess, type PkiFiles, type RunningCli } from '../../test/helpers/harness.js';

export { CLI, REPO_ROOT };

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One request on a fresh connection (no agent); rejects on connection errors or after `timeoutMs`. */
export function http(url: string | URL, o: { method?: string; headers?: OutgoingHttpHeaders; timeoutMs?: number; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // Our endpoints answer a few KiB at most (metrics a few tens); anything bigger is a bug.
        if (size > 4 * 1024 * 1024) req.destroy(new Error('response too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 5_000, () => req.destroy(new Error(`timeout after ${o.timeoutMs ?? 5_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * `n` distinct ports free right now (all bound at once, then released); used where a port
 * must be known before the spawn. Another process could take one in between, which a
 * benchmark on a test machine accepts.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    return typeof addr === 'object' && addr !== null ? addr.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** The container token every benchmarked `serve` is given. */
export const BENCH_CONTAINER_TOKEN = 'bench-container-token-0123456789abcdef';

/** Three free ports for a `serve` known before the spawn, and the flags that give them to it. */
export async function servePorts(): Promise<{ imds: number; container: number; ops: number; args: string[] }> {
  const [imds, container, ops] = (await freePorts(3)) as [number, number, number];
  return { imds, container, ops, args: ['--port', String(imds), '--container-port', String(container), '--ops-port', String(ops)] };
}

/**
 * /proc reports CPU times in USER_HZ clock ticks, which Linux fixes at 100 for user space
 * (sysconf(_SC_CLK_TCK)) whatever the kernel's own HZ.
 */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / USER_HZ;
}

/** Resident set size, bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

export interface EmulatorProcess {
  readonly cli: RunningCli;
  readonly url: string;
  readonly env: Record<string, string>;
  stats(): Promise<{ createSession: { total: number; ok: number; rejected: number; faulted: number } }>;
  stop(): Promise<void>;
}

/** `rolesanywhere-sidecar emulator --admin-api` trusting the PKI's root, as its own process. */
export async function startEmulatorProcess(pki: PkiFiles, extra: readonly string[] = []): Promise<EmulatorProcess> {
  const cli = startCli(['emulator', '--trust-anchor-ca', pki.rootPem, '--admin-api', '--log-level', 'warn', ...extra], { env: cliEnv() });
  const env = parseExports(await cli.waitForLines(4));
  const url = env.ROLESANYWHERE_ENDPOINT;
  if (url === undefined) throw new Error(`emulator printed no endpoint; stderr:\n${cli.stderr()}`);
  return {
    cli,
    url,
    env,
    stats: async () => {
      const r = await http(`${url}/__emulator/stats`);
      if (r.status !== 200) throw new Error(`emulator stats answered ${r.status}`);
      return JSON.parse(r.body.toString('utf8')) as { createSession: { total: number; ok: number; rejected: number; faulted: number } };
    },
    stop: async () => {
      await cli.stop();
    },
  };
}

export interface SidecarProcess {
  readonly cli: RunningCli;
  readonly pid: number;
  /** `http://127.0.0.1:port/` */
  readonly imdsUrl: string;
  readonly containerUrl: string;
  readonly containerToken: string;
  readonly opsUrl: string;
  stop(): Promise<void>;
}

/** The ops listener is not among the export lines; the start-up log line names every listener. */
async function opsUrlFrom(cli: RunningCli): Promise<string> {
  await cli.waitForStderr(/"sidecar started"/);
  for (const line of cli.stderr().split('\n')) {
    if (!line.includes('"sidecar started"')) continue;
    const doc = JSON.parse(line) as { listeners?: Record<string, string> };
    const ops = doc.listeners?.ops;
    if (ops !== undefined) return ops;
  }
  throw new Error('the sidecar start-up log names no ops listener');
}

/**
 * `rolesanywhere-sidecar serve` on ephemeral ports against `env` (an emulator's), with the
 * container token passed in so the caller knows it. Resolves once the listeners are up
 * (not necessarily holding credentials yet).
 */
export async function startSidecarProcess(o: {
  env: Record<string, string>;
  cert: string;
  key: string;
  args?: readonly string[];
  node?: string;
  nodeArgs?: readonly string[];
  containerToken?: string;
}): Promise<SidecarProcess> {
  const containerToken = o.containerToken ?? BENCH_CONTAINER_TOKEN;
  const args = [
    ...(o.nodeArgs ?? []),
    CLI,
    'serve',
    '--certificate',
    o.cert,
    '--private-key',
    o.key,
    '--port',
    '0',
    '--container-port',
    '0',
    '--ops-port',
    '0',
    ...(o.args ?? []),
  ];
  const cli = spawnWatched(o.node ?? process.execPath, args, cliEnv({ ...o.env, ROLESANYWHERE_CONTAINER_TOKEN: containerToken }));
  const exports = parseExports(await cli.waitForLines(3));
  const imdsUrl = exports.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  const containerUrl = exports.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  if (imdsUrl === undefined || containerUrl === undefined) throw new Error(`sidecar printed no endpoints; stderr:\n${cli.stderr()}`);
  const opsUrl = await opsUrlFrom(cli);
  return { cli, pid: cli.proc.pid!, imdsUrl, containerUrl, containerToken, opsUrl, stop: async () => void (await cli.stop()) };
}

/**
 * The harness's startCli with the whole argv given, so node flags (e.g. --cpu-prof) can go
 * before the script and another node binary can run it.
 */
export function spawnWatched(node: string, argv: readonly string[], env: Record<string, string>): RunningCli {
  return watchProcess(spawn(node, [...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export interface BareProcess {
  readonly pid: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** The bare node:http ceiling (bench/lib/bare-server.js) answering with a canned response file. */
export async function startBareServer(cannedFile: string, node = process.execPath): Promise<BareProcess> {
  const script = join(REPO_ROOT, 'dist', 'bench', 'lib', 'bare-server.js');
  const cli = spawnWatched(node, [script, cannedFile], cliEnv());
  const [line] = await cli.waitForLines(1);
  const port = (JSON.parse(line ?? '{}') as { port?: number }).port;
  if (port === undefined || port === 0) throw new Error(`bare server did not report a port; stderr:\n${cli.stderr()}`);
  return { pid: cli.proc.pid!, url: `http://127.0.0.1:${port}/`, stop: async () => void (await cli.stop()) };
}

/** Fetches an IMDSv2 session token (PUT /latest/api/token). */
export async function imdsToken(imdsUrl: string, ttlSeconds = 21600): Promise<string> {
  const r = await http(new URL('latest/api/token', imdsUrl), { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) } });
  if (r.status !== 200) throw new Error(`IMDS token request answered ${r.status}`);
  return r.body.toString('utf8');
}

/** Prometheus text -> the value of an unlabelled sample (undefined when absent). */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
