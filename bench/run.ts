/**
 * The benchmark suite: the hot path against the runtime's ceiling (a bare node:http server
 * replaying the same bytes), CreateSession never on the request path, cold start, memory,
 * idle CPU, and signing speed. Prints markdown tables and writes the numbers as JSON.
 *
 *   node dist/bench/run.js [--quick] [--json bench/results.json]   (then the start-up benchmark)
 *   node dist/bench/run.js startup [...]   (only bench/startup.ts; its own flags)
 *   node dist/bench/run.js --render bench/results.json   (markdown of an earlier run)
 *
 * Every server under test is its own process: the emulator and the sidecar run as the real
 * CLI, the ceiling as bench/lib/bare-server.js. autocannon runs here. On a 2-core machine the
 * load generator takes one core, so absolute numbers are bounded by it; the ratios compare
 * sidecar and ceiling under the same conditions, runs interleaved round by round.
 */
// @peculiar/x509 (test PKIs, the emulator) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bareColdStart, sidecarColdStart, type SidecarColdStart } from './lib/cold-start.js';
import { quantile, runLoad, type LoadResult } from './lib/load.js';
import { cpuSeconds, http, median, metricValue, REPO_ROOT, rssBytes, sleep, spawnWatched, startBareServer, type BareProcess } from './lib/procs.js';
import { benchFixture, imdsCredentialsUrl, LONG_SESSION_SECONDS, waitForCredentials, writeCanned } from './lib/setup.js';
import type { SigningReport } from './signing.js';
import { main as startupMain } from './startup.js';
import { cliEnv } from '../test/helpers/harness.js';
import { ensureNode24 } from '../test/helpers/node24.js';

/** The targets, as stated in docs/benchmarks.md. */
export const TARGETS = Object.freeze({
  /** Hot-path throughput, percent of the bare server's at the same concurrency. */
  minThroughputPct: 80,
  /** Hot-path p99 latency, times the bare server's. */
  maxP99Ratio: 1.5,
  /** Resident memory, times a bare node:http process's. */
  maxRssRatio: 1.5,
  /** "Near zero": idle CPU, percent of one core. */
  maxIdleCpuPct: 0.5,
});

/** Latencies are measured to the microsecond; the floor only keeps a ratio finite. */
const LATENCY_FLOOR_MS = 0.001;

interface Mode {
  readonly quick: boolean;
  readonly concurrencies: readonly number[];
  readonly rounds: number;
  readonly roundSeconds: number;
  readonly warmupSeconds: number;
  readonly memoryRequests: number;
  readonly idleSeconds: number;
  readonly coldRuns: number;
  readonly signingSeconds: number;
}

const FULL: Mode = {
  quick: false,
  concurrencies: [1, 16, 64, 256],
  rounds: 5,
  roundSeconds: 2,
  warmupSeconds: 2,
  memoryRequests: 1_000_000,
  idleSeconds: 60,
  coldRuns: 7,
  signingSeconds: 2,
};
const QUICK: Mode = {
  quick: true,
  concurrencies: [1, 16, 64, 256],
  rounds: 2,
  roundSeconds: 1,
  warmupSeconds: 1,
  memoryRequests: 100_000,
  idleSeconds: 10,
  coldRuns: 3,
  signingSeconds: 1,
};

interface Aggregate {
  requests: number;
  seconds: number;
  rps: number;
  /** Latency percentiles over every response of every round, ms. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  non2xx: number;
  errors: number;
  /** Server process CPU (user + system) per request, microseconds. */
  cpuMicrosPerRequest: number;
}

interface HotPathRow {
  endpoint: 'imds' | 'container';
  concurrency: number;
  sidecar: Aggregate;
  bare: Aggregate;
  throughputPct: number;
  p99Ratio: number;
  meetsThroughput: boolean;
  meetsP99: boolean;
}

function aggregate(runs: ReadonlyArray<{ r: LoadResult; cpu: number }>): Aggregate {
  const requests = runs.reduce((a, x) => a + x.r.requests, 0);
  const seconds = runs.reduce((a, x) => a + x.r.durationS, 0);
  const cpu = runs.reduce((a, x) => a + x.cpu, 0);
  const all = new Float64Array(runs.reduce((a, x) => a + x.r.samples.length, 0));
  let at = 0;
  for (const x of runs) {
    all.set(x.r.samples, at);
    at += x.r.samples.length;
  }
  all.sort();
  return {
    requests,
    seconds,
    rps: requests / seconds,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    p999: quantile(all, 0.999),
    max: all.length > 0 ? all[all.length - 1]! : Number.NaN,
    non2xx: runs.reduce((a, x) => a + x.r.non2xx, 0),
    errors: runs.reduce((a, x) => a + x.r.errors + x.r.timeouts, 0),
    cpuMicrosPerRequest: requests > 0 ? (cpu * 1e6) / requests : Number.NaN,
  };
}

const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const mib = (b: number): string => `${fmt(b / 1024 / 1024, 1)} MiB`;

async function sidecarMetrics(opsUrl: string): Promise<{ rss: number; heapUsed: number }> {
  const r = await http(new URL('metrics', opsUrl));
  const text = r.body.toString('utf8');
  return { rss: metricValue(text, 'process_resident_memory_bytes') ?? Number.NaN, heapUsed: metricValue(text, 'nodejs_heap_size_used_bytes') ?? Number.NaN };
}

async function runSigning(node: string, seconds: number): Promise<SigningReport | undefined> {
  if (!existsSync(node)) return undefined;
  const proc = spawnWatched(node, [join(REPO_ROOT, 'dist', 'bench', 'signing.js'), '--seconds', String(seconds)], cliEnv());
  const { code } = await proc.exited();
  if (code !== 0) throw new Error(`signing bench under ${node} failed: ${proc.stderr().slice(-2000)}`);
  return JSON.parse(proc.stdout().trim()) as SigningReport;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  if (argv[0] === 'startup') return startupMain(argv.slice(1));
  const { values } = parseArgs({
    args: [...argv],
    options: { quick: { type: 'boolean', default: false }, json: { type: 'string', default: 'bench/results.json' }, render: { type: 'string' } },
  });
  if (values.render !== undefined) {
    // Re-renders the markdown of an earlier run's JSON (e.g. for docs/benchmarks.md).
    process.stdout.write(renderMarkdown(JSON.parse(readFileSync(values.render, 'utf8')) as Record<string, unknown>));
    return 0;
  }
  const mode = values.quick === true ? QUICK : FULL;
  const machine = {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
    loadAverageAtEnd: [] as number[],
    mode: mode.quick ? 'quick' : 'full',
  };
  log(`${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}, ${machine.mode} mode`);

  const fixture = await benchFixture();
  const result: Record<string, unknown> = { machine, targets: TARGETS };
  let bares: BareProcess[] = [];
  try {
    // ---- hot path ------------------------------------------------------------------
    const sidecar = await fixture.startSidecar();
    const first = await waitForCredentials(sidecar);
    const memoryAfterStart = { ...(await sidecarMetrics(sidecar.opsUrl)), procRss: rssBytes(sidecar.pid) };
    const bareImds = await startBareServer(writeCanned(fixture.pki.dir, 'imds', first.imds));
    const bareContainer = await startBareServer(writeCanned(fixture.pki.dir, 'container', first.container));
    bares = [bareImds, bareContainer];
    await sleep(500);
    const bareRssAfterStart = rssBytes(bareImds.pid);
    const imdsPath = new URL(imdsCredentialsUrl(sidecar, first.role)).pathname;
    const containerPath = new URL(sidecar.containerUrl).pathname;
    const imdsHeaders = { 'x-aws-ec2-metadata-token': first.token };
    const containerHeaders = { authorization: sidecar.containerToken };
    // The bare server gets the very same request (path and headers), so request parsing costs the same.
    const targets = [
      { key: 'bare-imds', pid: bareImds.pid, url: new URL(imdsPath, bareImds.url).href, headers: imdsHeaders },
      { key: 'imds', pid: sidecar.pid, url: imdsCredentialsUrl(sidecar, first.role), headers: imdsHeaders },
      { key: 'bare-container', pid: bareContainer.pid, url: new URL(containerPath, bareContainer.url).href, headers: containerHeaders },
      { key: 'container', pid: sidecar.pid, url: sidecar.containerUrl, headers: containerHeaders },
    ] as const;

    const statsBefore = await fixture.emulator.stats();
    let sidecarRequests = 0;
    let bareImdsRequests = 0;
    const account = (key: string, n: number) => {
      if (key === 'imds' || key === 'container') sidecarRequests += n;
      if (key === 'bare-imds') bareImdsRequests += n;
    };

    log(`warm-up: ${mode.warmupSeconds} s per target`);
    for (const t of targets)
      account(t.key, (await runLoad({ url: t.url, headers: t.headers, connections: 16, durationS: mode.warmupSeconds, keepSamples: false })).requests);

    const rows: HotPathRow[] = [];
    for (const c of mode.concurrencies) {
      const runs = new Map<string, Array<{ r: LoadResult; cpu: number }>>();
      for (let round = 0; round < mode.rounds; round++) {
        // Rotate the order each round, so drift in the machine's load hits every target alike.
        const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
        for (const t of order) {
          const cpu0 = cpuSeconds(t.pid);
          const r = await runLoad({ url: t.url, headers: t.headers, connections: c, durationS: mode.roundSeconds });
          const cpu = cpuSeconds(t.pid) - cpu0;
          account(t.key, r.requests);
          runs.set(t.key, [...(runs.get(t.key) ?? []), { r, cpu }]);
        }
      }
      for (const endpoint of ['imds', 'container'] as const) {
        const s = aggregate(runs.get(endpoint)!);
        const b = aggregate(runs.get(`bare-${endpoint}`)!);
        const throughputPct = (100 * s.rps) / b.rps;
        const p99Ratio = Math.max(s.p99, LATENCY_FLOOR_MS) / Math.max(b.p99, LATENCY_FLOOR_MS);
        const row: HotPathRow = {
          endpoint,
          concurrency: c,
          sidecar: s,
          bare: b,
          throughputPct,
          p99Ratio,
          meetsThroughput: throughputPct >= TARGETS.minThroughputPct,
          meetsP99: p99Ratio <= TARGETS.maxP99Ratio,
        };
        rows.push(row);
        log(
          `c=${c} ${endpoint}: ${fmt(s.rps)} vs ${fmt(b.rps)} req/s (${fmt(throughputPct)} %), p99 ${fmt(s.p99, 2)} vs ${fmt(b.p99, 2)} ms, non-2xx ${s.non2xx}/${b.non2xx}`,
        );
      }
    }
    result.hotPath = rows;

    // ---- memory after N requests ------------------------------------------------------
    const topUp = async (urls: ReadonlyArray<{ key: string; url: string; headers: Record<string, string> }>, already: number, target: number) => {
      let done = already;
      let i = 0;
      while (done < target) {
        const t = urls[i++ % urls.length]!;
        const amount = Math.min(100_000, target - done);
        const r = await runLoad({ url: t.url, headers: t.headers, connections: 64, amount, keepSamples: false });
        done += r.requests;
        account(t.key, r.requests);
      }
    };
    log(`memory: topping up to at least ${mode.memoryRequests} requests on the sidecar, then the bare server to as many`);
    await topUp([targets[1], targets[3]], sidecarRequests, mode.memoryRequests);
    // The same number of requests for the ceiling, so both heaps have seen the same load.
    await topUp([targets[0]], bareImdsRequests, sidecarRequests);
    const statsAfter = await fixture.emulator.stats();
    await sleep(1000);
    const memoryAfterLoad = { ...(await sidecarMetrics(sidecar.opsUrl)), procRss: rssBytes(sidecar.pid) };
    const bareRssAfterLoad = rssBytes(bareImds.pid);
    const createSessionDelta = statsAfter.createSession.total - statsBefore.createSession.total;
    result.createSession = {
      before: statsBefore.createSession.total,
      after: statsAfter.createSession.total,
      delta: createSessionDelta,
      sidecarRequests,
      ok: createSessionDelta === 0,
    };
    log(`CreateSession calls during ${sidecarRequests} requests: ${createSessionDelta}`);
    result.memory = {
      requestsServed: sidecarRequests,
      bareRequestsServed: bareImdsRequests,
      sidecarAfterStart: memoryAfterStart,
      sidecarAfterLoad: memoryAfterLoad,
      bareRssAfterStart,
      bareRssAfterLoad,
      rssRatioAfterStart: memoryAfterStart.procRss / bareRssAfterStart,
      rssRatioAfterLoad: memoryAfterLoad.procRss / bareRssAfterLoad,
    };

    // ---- idle CPU ------------------------------------------------------------------------
    log(`idle CPU: ${mode.idleSeconds} s`);
    await sleep(2000);
    const idle0 = { sidecar: cpuSeconds(sidecar.pid), bare: cpuSeconds(bareImds.pid) };
    await sleep(mode.idleSeconds * 1000);
    const idleCpu = {
      seconds: mode.idleSeconds,
      sidecarPct: (100 * (cpuSeconds(sidecar.pid) - idle0.sidecar)) / mode.idleSeconds,
      barePct: (100 * (cpuSeconds(bareImds.pid) - idle0.bare)) / mode.idleSeconds,
    };
    result.idleCpu = idleCpu;
    await sidecar.stop();
    for (const b of bares) await b.stop();
    bares = [];

    // ---- cold start ----------------------------------------------------------------------
    log(`cold start: ${mode.coldRuns} runs each`);
    const cold: SidecarColdStart[] = [];
    const bareCold: number[] = [];
    for (let i = 0; i < mode.coldRuns; i++) {
      cold.push(
        await sidecarColdStart({
          env: fixture.emulator.env,
          cert: fixture.pki.ec256.cert,
          key: fixture.pki.ec256.key,
          role: first.role,
          args: ['--session-duration', String(LONG_SESSION_SECONDS), '--log-level', 'warn'],
        }),
      );
      bareCold.push(await bareColdStart());
    }
    result.coldStart = {
      runs: mode.coldRuns,
      sidecar: cold,
      bareMs: bareCold,
      medianListeningMs: median(cold.map((c) => c.listeningMs)),
      medianCredentialsMs: median(cold.map((c) => c.credentialsMs)),
      medianReadyMs: median(cold.map((c) => c.readyMs)),
      medianBareMs: median(bareCold),
    };

    // ---- signing ---------------------------------------------------------------------------
    log('signing');
    const node24 = ensureNode24();
    if ('error' in node24) log(`no ML-DSA rows: Node 24 unavailable (${node24.error})`);
    result.signing = [
      await runSigning(process.execPath, mode.signingSeconds),
      'path' in node24 ? await runSigning(node24.path, mode.signingSeconds) : undefined,
    ].filter((x) => x !== undefined);
  } finally {
    for (const b of bares) await b.stop().catch(() => undefined);
    await fixture.close();
  }
  machine.loadAverageAtEnd = loadavg().map((x) => Number(x.toFixed(2)));

  const jsonPath = resolve(values.json ?? 'bench/results.json');
  mkdirSync(dirname(jsonPath), { recursive: true });
  // The start-up benchmark keeps its part of the file (key "startup"), rewritten below.
  const previous = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>).startup : undefined;
  writeFileSync(jsonPath, `${JSON.stringify({ ...result, ...(previous !== undefined ? { startup: previous } : {}) }, null, 2)}\n`);
  process.stdout.write(renderMarkdown(result));
  log(`JSON written to ${jsonPath}`);
  return startupMain([...(mode.quick ? ['--quick'] : []), '--json', jsonPath]);
}

/** One line per target: met or missed, and by how much. */
export function targetSummary(r: Record<string, unknown>): string[] {
  const out: string[] = ['', '### Targets', ''];
  const rows = (r.hotPath as HotPathRow[] | undefined) ?? [];
  if (rows.length > 0) {
    const worstT = rows.reduce((a, b) => (b.throughputPct < a.throughputPct ? b : a));
    const worstP = rows.reduce((a, b) => (b.p99Ratio > a.p99Ratio ? b : a));
    const metT = rows.filter((x) => x.meetsThroughput).length;
    const metP = rows.filter((x) => x.meetsP99).length;
    out.push(
      `- Throughput >= ${TARGETS.minThroughputPct} % of bare: ${metT === rows.length ? 'met' : 'missed'} (met in ${metT} of ${rows.length} cases; lowest ${fmt(worstT.throughputPct, 1)} %, ${worstT.endpoint} at ${worstT.concurrency} connections).`,
      `- p99 <= ${TARGETS.maxP99Ratio}x bare: ${metP === rows.length ? 'met' : 'missed'} (met in ${metP} of ${rows.length} cases; highest ${fmt(worstP.p99Ratio, 2)}x, ${worstP.endpoint} at ${worstP.concurrency} connections).`,
    );
  }
  const cs = r.createSession as { delta: number } | undefined;
  if (cs !== undefined) out.push(`- No CreateSession on the request path: ${cs.delta === 0 ? 'met' : `MISSED (${cs.delta} calls)`}.`);
  const mem = r.memory as { rssRatioAfterLoad: number; rssRatioAfterStart: number } | undefined;
  if (mem !== undefined) {
    const verdict = (x: number) => (x <= TARGETS.maxRssRatio ? 'met' : 'missed');
    out.push(
      `- RSS <= ${TARGETS.maxRssRatio}x bare: ${verdict(mem.rssRatioAfterLoad)} after load (${fmt(mem.rssRatioAfterLoad, 2)}x), ${verdict(mem.rssRatioAfterStart)} right after start (${fmt(mem.rssRatioAfterStart, 2)}x).`,
    );
  }
  const idle = r.idleCpu as { sidecarPct: number } | undefined;
  if (idle !== undefined)
    out.push(
      `- Idle CPU <= ${TARGETS.maxIdleCpuPct} % of a core: ${idle.sidecarPct <= TARGETS.maxIdleCpuPct ? 'met' : 'missed'} (${fmt(idle.sidecarPct, 2)} %).`,
    );
  return out;
}

/** The results as markdown (also pasted into docs/benchmarks.md). */
export function renderMarkdown(r: Record<string, unknown>): string {
  const m = r.machine as {
    date: string;
    cpus: number;
    cpuModel: string;
    node: string;
    os: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
    mode: string;
  };
  const out: string[] = [];
  out.push(`## Results (${m.mode} run)`, '');
  out.push(
    `${m.date.slice(0, 10)}, ${m.cpus} CPUs (${m.cpuModel}), ${m.os}, Node ${m.node}; load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end.`,
    '',
  );
  const rows = (r.hotPath as HotPathRow[] | undefined) ?? [];
  out.push('### Hot path: credential GETs vs a bare node:http server returning the same bytes', '');
  out.push(
    '| Endpoint | Conc. | Sidecar req/s | Bare req/s | Throughput | Sidecar p50 / p99 / max ms | Bare p50 / p99 / max ms | p99 × | CPU µs/req sidecar / bare | Non-2xx | Target |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const x of rows) {
    const lat = (a: Aggregate) => `${fmt(a.p50, 2)} / ${fmt(a.p99, 2)} / ${fmt(a.max, 1)}`;
    const ok =
      x.meetsThroughput && x.meetsP99 ? 'met' : `missed (${[!x.meetsThroughput ? 'throughput' : '', !x.meetsP99 ? 'p99' : ''].filter(Boolean).join(', ')})`;
    out.push(
      `| ${x.endpoint} | ${x.concurrency} | ${fmt(x.sidecar.rps)} | ${fmt(x.bare.rps)} | ${fmt(x.throughputPct, 1)} % | ${lat(x.sidecar)} | ${lat(x.bare)} | ${fmt(x.p99Ratio, 2)} | ${fmt(x.sidecar.cpuMicrosPerRequest, 1)} / ${fmt(x.bare.cpuMicrosPerRequest, 1)} | ${x.sidecar.non2xx + x.sidecar.errors} | ${ok} |`,
    );
  }
  out.push(...targetSummary(r));
  const cs = r.createSession as { delta: number; sidecarRequests: number; before: number; after: number } | undefined;
  if (cs !== undefined) {
    out.push(
      '',
      `CreateSession calls during ${cs.sidecarRequests.toLocaleString('en-US')} credential requests: **${cs.delta}** (emulator stats ${cs.before} -> ${cs.after}).`,
    );
  }
  const mem = r.memory as
    | {
        requestsServed: number;
        bareRequestsServed: number;
        sidecarAfterStart: { rss: number; heapUsed: number; procRss: number };
        sidecarAfterLoad: { rss: number; heapUsed: number; procRss: number };
        bareRssAfterStart: number;
        bareRssAfterLoad: number;
        rssRatioAfterStart: number;
        rssRatioAfterLoad: number;
      }
    | undefined;
  if (mem !== undefined) {
    out.push('', '### Memory', '');
    out.push('| | Sidecar RSS | Sidecar heap used | Bare node:http RSS | RSS × |', '|---|---:|---:|---:|---:|');
    out.push(
      `| after start | ${mib(mem.sidecarAfterStart.rss)} | ${mib(mem.sidecarAfterStart.heapUsed)} | ${mib(mem.bareRssAfterStart)} | ${fmt(mem.rssRatioAfterStart, 2)} |`,
    );
    out.push(
      `| after ${mem.requestsServed.toLocaleString('en-US')} requests (bare: ${mem.bareRequestsServed.toLocaleString('en-US')}) | ${mib(mem.sidecarAfterLoad.rss)} | ${mib(mem.sidecarAfterLoad.heapUsed)} | ${mib(mem.bareRssAfterLoad)} | ${fmt(mem.rssRatioAfterLoad, 2)} |`,
    );
  }
  const idle = r.idleCpu as { seconds: number; sidecarPct: number; barePct: number } | undefined;
  if (idle !== undefined) {
    out.push(
      '',
      `Idle CPU over ${idle.seconds} s (/proc utime+stime): sidecar **${fmt(idle.sidecarPct, 2)} %** of one core, bare node:http ${fmt(idle.barePct, 2)} %.`,
    );
  }
  const cold = r.coldStart as { runs: number; medianListeningMs: number; medianCredentialsMs: number; medianReadyMs: number; medianBareMs: number } | undefined;
  if (cold !== undefined) {
    out.push('', `### Cold start (median of ${cold.runs})`, '');
    out.push('| Process start to | ms |', '|---|---:|');
    out.push(`| sidecar listening (first IMDS token) | ${fmt(cold.medianListeningMs)} |`);
    out.push(`| sidecar first credentials served (IMDS 200) | ${fmt(cold.medianCredentialsMs)} |`);
    out.push(`| sidecar /readyz 200 | ${fmt(cold.medianReadyMs)} |`);
    out.push(`| bare \`node -e\` http server answering | ${fmt(cold.medianBareMs)} |`);
  }
  const signing = (r.signing as SigningReport[] | undefined) ?? [];
  if (signing.length > 0) {
    out.push('', '### CreateSession signing (signCreateSession + createKeySigner, one core)', '');
    out.push(`| Key | ${signing.map((s) => `Node ${s.node} sig/s`).join(' | ')} |`, `|---|${signing.map(() => '---:').join('|')}|`);
    const keys = [...new Set(signing.flatMap((s) => s.results.map((x) => x.key)))];
    for (const k of keys) {
      const cells = signing.map((s) => {
        const x = s.results.find((y) => y.key === k);
        return x === undefined || x.skipped !== undefined ? 'n/a' : `${fmt(x.perSecond)} (${fmt(x.microsPerSignature)} µs)`;
      });
      out.push(`| ${k} | ${cells.join(' | ')} |`);
    }
  }
  out.push('');
  return `${out.join('\n')}\n`;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(REPO_ROOT, 'dist', 'bench', 'run.js');
if (isMain) process.exitCode = await main();
