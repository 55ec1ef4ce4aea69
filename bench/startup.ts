/**
 * Start-up and memory of the ways the sidecar is run most, each as a ratio against the
 * runtime doing the least it can in the same situation, measured side by side in one run:
 *
 *   credential-process, warm cache         vs  node -e 0
 *   credential-process --no-cache (HTTPS)  vs  node -e "require('https')"
 *   serve, spawn to first IMDS 200         vs  a minimal node:http server, spawn to first 200
 *   serve RSS / VmHWM after 2,000 GETs     vs  a bare node:http server after the same
 *
 *   node dist/bench/startup.js [--runs N] [--quick] [--sea PATH | --no-sea] [--json bench/results.json]
 *   node dist/bench/startup.js --render bench/results.json
 *
 * Runs are paired and interleaved: round i runs every target and its baseline, the order
 * flipped on every other round, so drift in the machine's load hits both alike. The
 * emulator (HTTPS, the real CLI in its own process) starts once, outside the timed region.
 * When the single executable exists (dist/release/rolesanywhere-sidecar, `npm run package`)
 * each target is measured for it too, in the same rounds against the same baselines.
 */
// The test PKI (@peculiar/x509) needs the Reflect metadata polyfill before it loads, also
// when this file is run on its own (npm run bench:startup) rather than through bench/run.ts.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cleanup, cliEnv, writePki, type PkiFiles } from '../test/helpers/harness.js';
import { runLoad } from './lib/load.js';
import {
  BENCH_CONTAINER_TOKEN,
  CLI,
  freePorts,
  http,
  imdsToken,
  REPO_ROOT,
  servePorts,
  sleep,
  spawnWatched,
  startBareServer,
  startEmulatorProcess,
  type EmulatorProcess,
} from './lib/procs.js';
import { LONG_SESSION_SECONDS, writeCanned } from './lib/setup.js';

/** The limits of issue #8, each a ratio of the sidecar's median to its baseline's. */
export const STARTUP_TARGETS = Object.freeze({
  credentialProcessCached: 1.3,
  credentialProcessNoCache: 2,
  serveFirstCredentials: 2.5,
  serveRss: 1.3,
  serveHwm: 1.5,
});

/** Credential GETs before the memory reading. */
export const MEMORY_REQUESTS = 2_000;
const POLL_MS = 2;

export interface Samples {
  readonly median: number;
  readonly p90: number;
  readonly values: number[];
}

export interface TargetResult {
  readonly key: keyof typeof STARTUP_TARGETS;
  readonly variant: 'npm bin' | 'single executable';
  readonly what: string;
  readonly baselineWhat: string;
  readonly unit: 'ms' | 'MiB';
  readonly sidecar: Samples;
  readonly baseline: Samples;
  /** median(sidecar) / median(baseline) */
  readonly ratio: number;
  readonly limit: number;
  readonly met: boolean;
}

/** Nearest-rank quantile of unsorted values. */
export function quantileOf(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export function summarize(values: readonly number[]): Samples {
  return { median: quantileOf(values, 0.5), p90: quantileOf(values, 0.9), values: values.map((v) => Number(v.toFixed(2))) };
}

/** How the sidecar is started: `node dist/cmd/...js` (what the npm bin runs) or the executable. */
interface Variant {
  readonly name: TargetResult['variant'];
  readonly command: string;
  readonly prefix: readonly string[];
}

/** Spawn to exit, ms; rejects unless the exit code is 0. */
function timeToExit(command: string, args: readonly string[], env: Record<string, string>, check?: (stdout: string) => void): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => void (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => void (err += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      const t = performance.now() - t0;
      child.once('close', () => {
        if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
        try {
          check?.(out);
        } catch (e) {
          return reject(e);
        }
        resolvePromise(t);
      });
    });
  });
}

function checkCredentialProcessOutput(stdout: string): void {
  const doc = JSON.parse(stdout) as { Version?: number; AccessKeyId?: string };
  if (doc.Version !== 1 || typeof doc.AccessKeyId !== 'string' || doc.AccessKeyId === '')
    throw new Error(`credential-process printed no credentials: ${stdout.slice(0, 200)}`);
}

/** Polls `attempt` every POLL_MS until it answers true; the time it did, from performance.now(). */
async function pollUntil(exited: () => boolean, deadline: number, attempt: () => Promise<boolean>, stderr: () => string): Promise<number> {
  for (;;) {
    if (exited()) throw new Error(`the process exited before answering; stderr:\n${stderr().slice(-2000)}`);
    try {
      if (await attempt()) return performance.now();
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error('no answer within 30 s');
    await sleep(POLL_MS);
  }
}

interface Setup {
  readonly pki: PkiFiles;
  readonly emulator: EmulatorProcess;
  readonly env: Record<string, string>;
  readonly identityArgs: string[];
  readonly role: string;
}

/** Serve's spawn to first IMDS 200 with credentials, and its process. */
async function serveFirstCredentials(
  v: Variant,
  s: Setup,
  extra: readonly string[] = [],
): Promise<{ ms: number; pid: number; imdsUrl: string; stop: () => Promise<void> }> {
  const ports = await servePorts();
  const imds = ports.imds;
  const base = `http://127.0.0.1:${imds}`;
  const args = [...v.prefix, 'serve', ...s.identityArgs, ...ports.args, '--log-level', 'warn', ...extra];
  const t0 = performance.now();
  const proc = spawnWatched(v.command, args, cliEnv({ ...s.env, ROLESANYWHERE_CONTAINER_TOKEN: BENCH_CONTAINER_TOKEN }));
  let exited = false;
  void proc.exited().then(() => (exited = true));
  try {
    let token = '';
    const deadline = t0 + 30_000;
    await pollUntil(
      () => exited,
      deadline,
      async () => {
        const r = await http(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' }, timeoutMs: 1000 });
        token = r.body.toString('utf8');
        return r.status === 200;
      },
      proc.stderr,
    );
    const t = await pollUntil(
      () => exited,
      deadline,
      async () => {
        const r = await http(`${base}/latest/meta-data/iam/security-credentials/${s.role}`, {
          headers: { 'x-aws-ec2-metadata-token': token },
          timeoutMs: 1000,
        });
        return r.status === 200 && r.body.includes('"AccessKeyId"');
      },
      proc.stderr,
    );
    return { ms: t - t0, pid: proc.proc.pid!, imdsUrl: `${base}/`, stop: async () => void (await proc.stop()) };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** The smallest node:http server, spawn to first 200. */
async function bareFirstResponse(): Promise<number> {
  const [port] = (await freePorts(1)) as [number];
  const script = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  const t0 = performance.now();
  const proc = spawnWatched(process.execPath, ['-e', script], cliEnv());
  let exited = false;
  void proc.exited().then(() => (exited = true));
  try {
    const t = await pollUntil(
      () => exited,
      t0 + 30_000,
      async () => (await http(`http://127.0.0.1:${port}/`, { timeoutMs: 1000 })).status === 200,
      proc.stderr,
    );
    return t - t0;
  } finally {
    await proc.stop();
  }
}

/** VmRSS and VmHWM, bytes, from /proc/<pid>/status. */
export function memoryOf(status: string): { rss: number; hwm: number } {
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const readMemory = (pid: number) => memoryOf(readFileSync(`/proc/${pid}/status`, 'utf8'));

/** MEMORY_REQUESTS credential GETs over 4 kept-alive connections, then a short settle. */
async function credentialGets(url: string, headers: Record<string, string>): Promise<void> {
  const r = await runLoad({ url, headers, connections: 4, amount: MEMORY_REQUESTS, keepSamples: false });
  if (r.non2xx > 0 || r.errors > 0 || r.requests < MEMORY_REQUESTS)
    throw new Error(`memory load: ${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} errors`);
  await sleep(300);
}

async function serveMemory(v: Variant, s: Setup, cannedFile: () => Promise<string>): Promise<{ sidecar: { rss: number; hwm: number }; bareFile: string }> {
  const started = await serveFirstCredentials(v, s);
  try {
    const token = await imdsToken(started.imdsUrl);
    await credentialGets(`${started.imdsUrl}latest/meta-data/iam/security-credentials/${s.role}`, { 'x-aws-ec2-metadata-token': token });
    return { sidecar: readMemory(started.pid), bareFile: await cannedFile() };
  } finally {
    await started.stop();
  }
}

async function bareMemory(cannedFile: string, path: string): Promise<{ rss: number; hwm: number }> {
  const bare = await startBareServer(cannedFile);
  try {
    await credentialGets(new URL(path, bare.url).href, { 'x-aws-ec2-metadata-token': 'x'.repeat(44) });
    return readMemory(bare.pid);
  } finally {
    await bare.stop();
  }
}

async function setup(): Promise<Setup> {
  const pki = await writePki();
  const tlsCert = join(pki.dir, 'emulator-tls.pem');
  const tlsKey = join(pki.dir, 'emulator-tls.key');
  writeFileSync(tlsCert, pki.tls.certPem);
  writeFileSync(tlsKey, pki.tls.keyPem, { mode: 0o600 });
  const emulator = await startEmulatorProcess(pki, ['--max-duration', String(LONG_SESSION_SECONDS), '--tls-cert', tlsCert, '--tls-key', tlsKey]);
  if (!emulator.url.startsWith('https:')) throw new Error(`the emulator is not on HTTPS: ${emulator.url}`);
  return {
    pki,
    emulator,
    env: { ...emulator.env, AWS_CA_BUNDLE: pki.tls.caPath },
    identityArgs: ['--certificate', pki.ec256.cert, '--private-key', pki.ec256.key, '--session-duration', String(LONG_SESSION_SECONDS)],
    role: await roleName(emulator.env, pki),
  };
}

/** The role name IMDS lists, read once from a throwaway serve (not timed). */
async function roleName(env: Record<string, string>, pki: PkiFiles): Promise<string> {
  const probe: Setup = {
    pki,
    emulator: undefined as never,
    env: { ...env, AWS_CA_BUNDLE: pki.tls.caPath },
    identityArgs: ['--certificate', pki.ec256.cert, '--private-key', pki.ec256.key],
    role: '',
  };
  const ports = await servePorts();
  const imds = ports.imds;
  const args = [CLI, 'serve', ...probe.identityArgs, ...ports.args, '--log-level', 'warn'];
  const proc = spawnWatched(process.execPath, args, cliEnv({ ...probe.env, ROLESANYWHERE_CONTAINER_TOKEN: BENCH_CONTAINER_TOKEN }));
  try {
    await proc.waitForLines(3);
    const base = `http://127.0.0.1:${imds}/`;
    const token = await imdsToken(base);
    const r = await http(new URL('latest/meta-data/iam/security-credentials/', base), { headers: { 'x-aws-ec2-metadata-token': token } });
    const role = r.body.toString('utf8').trim();
    if (r.status !== 200 || role === '') throw new Error(`IMDS listed no role (${r.status})`);
    return role;
  } finally {
    await proc.stop();
  }
}

const log = (s: string): void => void process.stderr.write(`[startup] ${s}\n`);
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      sea: { type: 'string' },
      'no-sea': { type: 'boolean', default: false },
      json: { type: 'string', default: 'bench/results.json' },
      render: { type: 'string' },
      label: { type: 'string' },
      /** Node flags for the npm-bin runs (e.g. "--max-semi-space-size=1"), to measure V8 settings. */
      'node-flags': { type: 'string' },
      /** Record this run as the "before" column's source instead of comparing with it. */
      'as-before': { type: 'boolean', default: false },
    },
  });
  if (values.render !== undefined) {
    process.stdout.write(renderStartup((JSON.parse(readFileSync(values.render, 'utf8')) as { startup: StartupReport }).startup));
    return 0;
  }
  const runs = values.runs !== undefined ? Number(values.runs) : values.quick === true ? 5 : 21;
  // A serve start costs ~10x a credential-process; fewer rounds keep the run near 3 minutes.
  const serveRuns = Math.max(3, Math.round(runs / 2));
  const memoryRuns = Math.max(3, Math.round(runs / 4));
  const seaPath = values.sea ?? join(REPO_ROOT, 'dist', 'release', 'rolesanywhere-sidecar');
  const nodeFlags = (values['node-flags'] ?? '').split(' ').filter((f) => f !== '');
  const variants: Variant[] = [{ name: 'npm bin', command: process.execPath, prefix: [...nodeFlags, CLI] }];
  if (values['no-sea'] !== true && existsSync(seaPath)) variants.push({ name: 'single executable', command: seaPath, prefix: [] });
  const machine = {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
    loadAverageAtEnd: [] as number[],
  };
  log(
    `${machine.cpus} CPUs, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}; ${runs} rounds (serve ${serveRuns}, memory ${memoryRuns}); ${variants.map((v) => v.name).join(' + ')}`,
  );

  const s = await setup();
  const cacheDir = mkdtempSync(join(s.pki.dir, 'cache-'));
  const results: TargetResult[] = [];
  try {
    const env = cliEnv(s.env);
    const cpArgs = (v: Variant, extra: readonly string[]) => [...v.prefix, 'credential-process', ...s.identityArgs, ...extra];
    // Fill the cache once per variant (they share the cache format and directory).
    for (const v of variants) await timeToExit(v.command, cpArgs(v, ['--cache-dir', cacheDir]), env, checkCredentialProcessOutput);

    /** Paired rounds: in odd rounds the baseline goes first. */
    const paired = async (n: number, target: () => Promise<number>, baseline: () => Promise<number>) => {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < n; i++) {
        if (i % 2 === 0) {
          a.push(await target());
          b.push(await baseline());
        } else {
          b.push(await baseline());
          a.push(await target());
        }
      }
      return { a, b };
    };
    const push = (v: Variant, key: TargetResult['key'], what: string, baselineWhat: string, unit: TargetResult['unit'], a: number[], b: number[]) => {
      const sidecar = summarize(a);
      const baseline = summarize(b);
      const ratio = sidecar.median / baseline.median;
      const r: TargetResult = {
        key,
        variant: v.name,
        what,
        baselineWhat,
        unit,
        sidecar,
        baseline,
        ratio,
        limit: STARTUP_TARGETS[key],
        met: ratio <= STARTUP_TARGETS[key],
      };
      results.push(r);
      log(`${v.name}: ${what}: ${fmt(sidecar.median, 1)} vs ${fmt(baseline.median, 1)} ${unit} = ${fmt(ratio, 2)}x (limit ${r.limit}x)`);
    };

    for (const v of variants) {
      const hit = await paired(
        runs,
        () => timeToExit(v.command, cpArgs(v, ['--cache-dir', cacheDir]), env, checkCredentialProcessOutput),
        () => timeToExit(process.execPath, ['-e', '0'], cliEnv()),
      );
      push(v, 'credentialProcessCached', '`credential-process`, warm cache', '`node -e 0`', 'ms', hit.a, hit.b);
    }
    for (const v of variants) {
      const miss = await paired(
        runs,
        () => timeToExit(v.command, cpArgs(v, ['--no-cache']), env, checkCredentialProcessOutput),
        () => timeToExit(process.execPath, ['-e', "require('https')"], cliEnv()),
      );
      push(
        v,
        'credentialProcessNoCache',
        '`credential-process --no-cache` (one CreateSession over HTTPS)',
        '`node -e "require(\'https\')"`',
        'ms',
        miss.a,
        miss.b,
      );
    }
    for (const v of variants) {
      const first = await paired(
        serveRuns,
        async () => {
          const r = await serveFirstCredentials(v, s);
          await r.stop();
          return r.ms;
        },
        bareFirstResponse,
      );
      push(
        v,
        'serveFirstCredentials',
        '`serve`, spawn to first IMDS 200 with credentials',
        'minimal `node:http` server, spawn to first 200',
        'ms',
        first.a,
        first.b,
      );
    }
    // The bare server replays the sidecar's own IMDS answer, read once from a running sidecar.
    let canned: string | undefined;
    const cannedFile = async (): Promise<string> => {
      if (canned !== undefined) return canned;
      const started = await serveFirstCredentials(variants[0]!, s);
      try {
        const token = await imdsToken(started.imdsUrl);
        const r = await http(`${started.imdsUrl}latest/meta-data/iam/security-credentials/${s.role}`, { headers: { 'x-aws-ec2-metadata-token': token } });
        canned = writeCanned(s.pki.dir, 'imds', r);
        return canned;
      } finally {
        await started.stop();
      }
    };
    const credentialsPath = `/latest/meta-data/iam/security-credentials/${s.role}`;
    for (const v of variants) {
      const mine: Array<{ rss: number; hwm: number }> = [];
      const bare: Array<{ rss: number; hwm: number }> = [];
      for (let i = 0; i < memoryRuns; i++) {
        const file = await cannedFile();
        const order = i % 2 === 0 ? ['sidecar', 'bare'] : ['bare', 'sidecar'];
        for (const which of order) {
          if (which === 'sidecar') mine.push((await serveMemory(v, s, cannedFile)).sidecar);
          else bare.push(await bareMemory(file, credentialsPath));
        }
      }
      const toMiB = (b: number) => b / 1024 / 1024;
      push(
        v,
        'serveRss',
        `\`serve\` RSS after ${MEMORY_REQUESTS.toLocaleString('en-US')} credential GETs`,
        'bare `node:http` server after the same',
        'MiB',
        mine.map((m) => toMiB(m.rss)),
        bare.map((m) => toMiB(m.rss)),
      );
      push(
        v,
        'serveHwm',
        '`serve` peak RSS (VmHWM)',
        "bare `node:http` server's",
        'MiB',
        mine.map((m) => toMiB(m.hwm)),
        bare.map((m) => toMiB(m.hwm)),
      );
    }
  } finally {
    await s.emulator.stop();
    cleanup(s.pki.dir);
  }
  machine.loadAverageAtEnd = loadavg().map((x) => Number(x.toFixed(2)));
  const report: StartupReport = {
    machine,
    runs,
    serveRuns,
    memoryRuns,
    ...(nodeFlags.length > 0 ? { nodeFlags } : {}),
    ...(values.label !== undefined ? { label: values.label } : {}),
    results,
  };

  // bench/results.json holds the other benchmarks too: replace only this one's part.
  const jsonPath = resolve(values.json ?? 'bench/results.json');
  const doc = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>) : {};
  const previous = doc.startup as StartupReport | undefined;
  const before = values['as-before'] === true || previous === undefined ? undefined : (previous.before ?? stripBefore(previous));
  doc.startup = { ...report, ...(before !== undefined ? { before } : {}) };
  writeFileSync(jsonPath, `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write(renderStartup(doc.startup as StartupReport));
  log(`JSON written to ${jsonPath} (key "startup")`);
  return 0;
}

export interface StartupReport {
  readonly machine: { date: string; cpus: number; cpuModel: string; os: string; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  readonly runs: number;
  readonly serveRuns: number;
  readonly memoryRuns: number;
  readonly label?: string;
  /** Node flags the npm-bin runs had. */
  readonly nodeFlags?: string[];
  readonly results: TargetResult[];
  /** The first recorded run, kept as the "before" column by every later run. */
  readonly before?: Omit<StartupReport, 'before'>;
}

function stripBefore(r: StartupReport): Omit<StartupReport, 'before'> {
  const { before: _ignored, ...rest } = r;
  return rest;
}

export function renderStartup(r: StartupReport): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(
    `${m.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} CPUs (${m.cpuModel}), ${m.os}, Node ${m.node}; load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end; ` +
      `${r.runs} paired rounds (serve ${r.serveRuns}, memory ${r.memoryRuns})${r.nodeFlags !== undefined ? `; npm bin under \`node ${r.nodeFlags.join(' ')}\`` : ''}.`,
    '',
  );
  const before = r.before;
  const head = ['Variant', 'Target', 'Sidecar median / p90', 'Baseline', 'Baseline median / p90', 'Ratio', 'Limit', 'Met'];
  if (before !== undefined) head.splice(6, 0, `Before (${before.machine.date.slice(0, 10)}${before.label !== undefined ? `, ${before.label}` : ''})`);
  out.push(`| ${head.join(' | ')} |`, `|${head.map((h) => (['Variant', 'Target', 'Baseline', 'Met'].includes(h) ? '---' : '---:')).join('|')}|`);
  for (const x of r.results) {
    const cells = [
      x.variant,
      x.what,
      `${fmt(x.sidecar.median, 1)} / ${fmt(x.sidecar.p90, 1)} ${x.unit}`,
      x.baselineWhat,
      `${fmt(x.baseline.median, 1)} / ${fmt(x.baseline.p90, 1)} ${x.unit}`,
      `**${fmt(x.ratio, 2)}x**`,
      `${x.limit}x`,
      x.met ? 'met' : 'missed',
    ];
    if (before !== undefined) {
      const b = before.results.find((y) => y.key === x.key && y.variant === x.variant);
      cells.splice(6, 0, b !== undefined ? `${fmt(b.sidecar.median, 1)} ${b.unit}, ${fmt(b.ratio, 2)}x` : 'n/a');
    }
    out.push(`| ${cells.join(' | ')} |`);
  }
  out.push('');
  return `${out.join('\n')}\n`;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(REPO_ROOT, 'dist', 'bench', 'startup.js');
if (isMain) process.exitCode = await main();
