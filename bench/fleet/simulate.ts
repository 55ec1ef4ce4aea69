#!/usr/bin/env node
/**
 * Fleet simulation of refreshing sidecars (docs/fleet-simulation.md).
 *
 *   node dist/bench/fleet/simulate.js [--sidecars N[,N...]] [--hours H] [--session-seconds S[,S...]]
 *     [--rate R] [--burst B] [--latency-ms LO-HI] [--start-spread-seconds S] [--client-attempts N] [--seed N]
 *     [--json out.json]
 *
 * Without arguments it runs the matrix of the report: 10, 1,000 and 100,000 sidecars with
 * 3,600 s and 43,200 s sessions, 24 virtual hours each, at 10 CreateSession calls/s. A
 * scenario whose fleet needs more calls than the account allows even in the best case
 * never converges; at 10,000+ sidecars it is simulated for OVERLOADED_HOURS only (unless
 * --hours is given), because its retry storm lasts as long as the run.
 *
 * Prints a markdown table on stdout, progress on stderr, and writes JSON with --json.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { THROTTLED_RETRY_CAP_MS } from '../../src/refresh/schedule.js';
import { DEFAULT_RETRY_POLICY, REFRESHER_RETRY_POLICY, type RetryPolicy } from '../../src/session/retry.js';
import { floorCallsPerSecond, nominalCallsPerSecond, simulateFleet, type FleetResult } from './fleet.js';
import { formatTable, type ScenarioReport } from './report.js';

const DEFAULT_SIDECARS = [10, 1_000, 100_000];
const DEFAULT_SESSIONS = [3_600, 43_200];
const DEFAULT_HOURS = 24;
const DEFAULT_RATE = 10;
/** Hours for an overloaded large fleet: enough to show that it never converges. */
const OVERLOADED_HOURS = 1.5;
const OVERLOADED_MIN_SIDECARS = 10_000;

/**
 * The refresh policies compared side by side. `throttle-aware` is what the sidecar ships:
 * one CreateSession attempt per planned refresh and a 5 min backoff cap after a 429.
 * `round-1` is the first release's: the client's 4 quick attempts under the refresher and the
 * 60 s cap for every failure.
 */
export const POLICIES: Readonly<Record<string, { readonly retryPolicy: RetryPolicy; readonly throttledRetryCapMs: number }>> = {
  'round-1': { retryPolicy: DEFAULT_RETRY_POLICY, throttledRetryCapMs: 60_000 },
  'throttle-aware': { retryPolicy: REFRESHER_RETRY_POLICY, throttledRetryCapMs: THROTTLED_RETRY_CAP_MS },
};

interface Args {
  sidecars: number[];
  sessions: number[];
  hours: number | undefined;
  rate: number;
  burst: number | undefined;
  latency: [number, number];
  spread: number;
  seed: number;
  clientAttempts: number | undefined;
  policies: string[];
  json: string | undefined;
}

const USAGE =
  'usage: node dist/bench/fleet/simulate.js [--sidecars N[,N...]] [--hours H] [--session-seconds S[,S...]] [--rate R] ' +
  '[--burst B] [--latency-ms LO-HI] [--start-spread-seconds S] [--policy round-1,throttle-aware] [--client-attempts N] [--seed N] [--json out.json]';

class UsageError extends Error {}
class HelpRequested extends Error {}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    sidecars: DEFAULT_SIDECARS,
    sessions: DEFAULT_SESSIONS,
    hours: undefined,
    rate: DEFAULT_RATE,
    burst: undefined,
    latency: [50, 150],
    spread: 0,
    seed: 1,
    clientAttempts: undefined,
    policies: Object.keys(POLICIES),
    json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') throw new HelpRequested(USAGE);
    const eq = flag.indexOf('=');
    const name = eq >= 0 ? flag.slice(0, eq) : flag;
    const value = eq >= 0 ? flag.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value; ${USAGE}`);
    switch (name) {
      case '--sidecars':
        a.sidecars = list(name, value);
        break;
      case '--session-seconds':
        a.sessions = list(name, value);
        break;
      case '--hours':
        a.hours = num(name, value);
        break;
      case '--rate':
        a.rate = num(name, value);
        break;
      case '--burst':
        a.burst = num(name, value);
        break;
      case '--latency-ms': {
        const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value);
        if (m === null) throw new UsageError(`--latency-ms takes LO-HI in ms, e.g. 50-150; got ${JSON.stringify(value.slice(0, 40))}`);
        a.latency = [Number(m[1]), Number(m[2])];
        break;
      }
      case '--start-spread-seconds':
        a.spread = num(name, value);
        break;
      case '--seed':
        a.seed = num(name, value);
        break;
      case '--client-attempts':
        a.clientAttempts = num(name, value);
        if (!Number.isInteger(a.clientAttempts) || a.clientAttempts < 1 || a.clientAttempts > 100) {
          throw new UsageError('--client-attempts takes an integer from 1 to 100');
        }
        break;
      case '--policy':
        a.policies = value.split(',');
        for (const p of a.policies) {
          if (!Object.hasOwn(POLICIES, p))
            throw new UsageError(`--policy takes ${Object.keys(POLICIES).join(', ')} (comma-separated); got ${JSON.stringify(p.slice(0, 40))}`);
        }
        break;
      case '--json':
        a.json = value;
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(name.slice(0, 60))}; ${USAGE}`);
    }
  }
  return a;
}

function num(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} takes a number; got ${JSON.stringify(v.slice(0, 40))}`);
  return n;
}

function list(name: string, v: string): number[] {
  const parts = v.split(',');
  if (parts.length > 16) throw new UsageError(`${name} takes at most 16 values`);
  return parts.map((p) => num(name, p));
}

async function main(): Promise<number> {
  // A larger young generation: a retry storm allocates a few short-lived objects per call
  // (promises, timers, log fields), and scavenging them was a quarter of the run time.
  // Measured about 10 % faster; it only changes this benchmark process.
  setFlagsFromString('--max-semi-space-size=64');
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(`${e.message}\n`);
      return 0;
    }
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  const reports: ScenarioReport[] = [];
  for (const sessionSeconds of args.sessions) {
    for (const sidecars of args.sidecars) {
      for (const policyName of args.policies) {
        const policy = POLICIES[policyName]!;
        const retryPolicy = args.clientAttempts === undefined ? policy.retryPolicy : { ...policy.retryPolicy, maxAttempts: args.clientAttempts };
        const overloaded = floorCallsPerSecond(sidecars, sessionSeconds) > args.rate;
        const reduce = args.hours === undefined && overloaded && sidecars >= OVERLOADED_MIN_SIDECARS;
        const hours = args.hours ?? (reduce ? OVERLOADED_HOURS : DEFAULT_HOURS);
        const notes: string[] = [];
        const nominal = nominalCallsPerSecond(sidecars, sessionSeconds);
        if (overloaded) {
          notes.push(
            `overloaded: even refreshing at the last moment needs ${floorCallsPerSecond(sidecars, sessionSeconds).toFixed(1)} calls/s > ${args.rate} (the refresh schedule needs ${nominal.toFixed(1)})`,
          );
        } else if (nominal > args.rate) {
          notes.push(
            `over the limit: the refresh schedule needs ${nominal.toFixed(1)} calls/s > ${args.rate} (refreshing at the last moment would need ${floorCallsPerSecond(sidecars, sessionSeconds).toFixed(1)})`,
          );
        }
        if (args.clientAttempts !== undefined && args.clientAttempts !== policy.retryPolicy.maxAttempts) {
          const n = args.clientAttempts;
          notes.push(`what-if: the client makes ${n} attempt${n === 1 ? '' : 's'} per fetch instead of ${policy.retryPolicy.maxAttempts}`);
        }
        if (reduce) {
          notes.push(
            `hours reduced from ${DEFAULT_HOURS} to ${hours} to keep the run to minutes: the retry storm never ends, and every call in it goes through a real refresher (pass --hours to override)`,
          );
        }
        process.stderr.write(`simulating ${sidecars} sidecars, ${sessionSeconds} s sessions, ${hours} h, ${args.rate} calls/s, policy ${policyName}...\n`);
        const started = Date.now();
        let result: FleetResult;
        try {
          result = await simulateFleet({
            sidecars,
            hours,
            sessionSeconds,
            ratePerSecond: args.rate,
            ...(args.burst !== undefined ? { burst: args.burst } : {}),
            latencyMs: args.latency,
            startSpreadSeconds: args.spread,
            seed: args.seed,
            retryPolicy,
            throttledRetryCapMs: policy.throttledRetryCapMs,
            onProgress: (p) => {
              if (Date.now() - started > 5_000) {
                process.stderr.write(
                  `  ${p.virtualHours.toFixed(1)} h simulated in ${p.wallSeconds.toFixed(0)} s: ${p.calls} calls, ${p.acquired}/${sidecars} sidecars had credentials\n`,
                );
              }
            },
          });
        } catch (e) {
          process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
          return 2;
        }
        reports.push({ result, notes, ...(args.policies.length > 1 ? { policy: policyName } : {}) });
      }
    }
  }
  process.stdout.write(`${formatTable(reports)}\n`);
  if (args.json !== undefined) {
    const doc = {
      generatedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
      policies: Object.fromEntries(args.policies.map((p) => [p, POLICIES[p]])),
      ...(args.clientAttempts !== undefined ? { clientAttemptsOverride: args.clientAttempts } : {}),
      scenarios: reports,
    };
    writeFileSync(args.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stderr.write(`wrote ${args.json}\n`);
  }
  return 0;
}

process.exitCode = await main();
