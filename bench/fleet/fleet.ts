/**
 * A fleet of sidecars on one virtual clock, all calling one account's CreateSession.
 *
 * Each sidecar is a REAL CredentialRefresher (src/refresh/refresher.ts) with the real
 * refresh-time rule and failure backoff (src/refresh/schedule.ts). Only the CreateSession
 * client underneath is simulated: it keeps the real client's retry loop
 * (REFRESHER_RETRY_POLICY, or DEFAULT_RETRY_POLICY for the round-1 comparison, and backoffDelayMs from src/session/retry.ts) but replaces HTTP
 * with a round-trip latency in virtual time and a per-account token bucket that
 * either mints credentials or answers 429 (SERVICE_THROTTLED). The question this answers
 * (docs/fleet-simulation.md): given a fleet size, a session duration and the account's
 * CreateSession rate limit, does a fleet restarted all at once converge, how hard does it
 * hammer the service while it does, and does any sidecar lose servable credentials once
 * it had them.
 */
import type { Random } from '../../src/core/clock.js';
import type { CredentialSource, Credentials } from '../../src/core/credentials.js';
import { SidecarError } from '../../src/core/errors.js';
import { nullLogger } from '../../src/core/logger.js';
import { VirtualTime } from '../../src/core/timers.js';
import { CredentialRefresher } from '../../src/refresh/refresher.js';
import { refreshDelayMs, SERVE_SKEW_MS } from '../../src/refresh/schedule.js';
import { REFRESHER_RETRY_POLICY, backoffDelayMs, type RetryPolicy } from '../../src/session/retry.js';

const SECOND = 1_000;
const HOUR = 3_600 * SECOND;
/** Virtual start of every run; any fixed instant would do (credentials carry absolute expiries). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/*
 * Bounds on inputs: the per-second histogram and per-sidecar arrays are allocated up front,
 * so absurd values must fail fast instead of exhausting memory. A storm peaks at about 7 KB
 * per sidecar, so 300,000 stays around 2 GB, under V8's default heap limit.
 */
export const MAX_SIDECARS = 300_000;
export const MAX_HOURS = 24 * 14;
/** CreateSession accepts durationSeconds of 900..43200 (docs/createsession.md, "Request"). */
export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 43_200;

/** sfc32: a small, fast, seedable PRNG, so a run is reproducible from its seed. Not for secrets. */
export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    // The first outputs of sfc32 still echo the seed; discard them.
    for (let i = 0; i < 15; i++) this.next();
  }

  float(): number {
    return this.next() / 4_294_967_296;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  private next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
}

/**
 * The service's per-account limit as a token bucket: `ratePerSecond` tokens a second, at
 * most `burst` saved up. A throttled call consumes no token (the usual AWS behaviour; if
 * the real service charged throttled calls too, a retry storm would also slow convergence).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / SECOND);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

/** One account's CreateSession endpoint: the rate limit, and counters of every call it saw. */
export class SimulatedAccount {
  readonly callsPerSecond: Uint32Array;
  readonly throttledPerSecond: Uint32Array;
  totalCalls = 0;
  throttledCalls = 0;
  private readonly bucket: TokenBucket;
  private readonly sessionMs: number;
  private readonly t0: number;
  private issued = 0;

  constructor(opts: { ratePerSecond: number; burst: number; sessionSeconds: number; t0: number; horizonSeconds: number }) {
    this.bucket = new TokenBucket(opts.ratePerSecond, opts.burst, opts.t0);
    this.sessionMs = opts.sessionSeconds * SECOND;
    this.t0 = opts.t0;
    const buckets = Math.ceil(opts.horizonSeconds) + 1;
    this.callsPerSecond = new Uint32Array(buckets);
    this.throttledPerSecond = new Uint32Array(buckets);
  }

  /** One CreateSession arriving at `now`: fresh credentials, or undefined for a 429. */
  call(now: number): Credentials | undefined {
    const s = Math.min(this.callsPerSecond.length - 1, Math.max(0, Math.floor((now - this.t0) / SECOND)));
    this.totalCalls++;
    this.callsPerSecond[s]! += 1;
    if (!this.bucket.take(now)) {
      this.throttledCalls++;
      this.throttledPerSecond[s]! += 1;
      return undefined;
    }
    this.issued++;
    // The strings are shared: nothing reads them, and 100,000 sidecars' worth would only cost memory.
    return { accessKeyId: 'ASIASIMULATED', secretAccessKey: 'simulated', sessionToken: 'simulated', expiration: now + this.sessionMs };
  }
}

const MASK = (1 << 17) - 1;

/** Something waiting in an AttemptQueue. */
interface Due {
  fire(): void;
}

/**
 * The simulated client's waits (backoff plus round trip, tens of ms to ~20 s) on a ring of
 * 1 ms slots over the same virtual clock as the refreshers' VirtualTime, and fired by the
 * same loop in time order. A retry storm of 100,000 sidecars is tens of millions of these
 * waits; in VirtualTime's binary heap each cost a heap insertion and removal among 10^5
 * timers plus a timer object, about a third of the run time, where a slot costs O(1) and
 * allocates nothing. The refreshers' own timers stay on VirtualTime.
 */
export class AttemptQueue {
  /** Longest wait a slot can hold; longer ones go to VirtualTime. */
  static readonly SLOTS = MASK + 1;
  private readonly slots: Array<Due[] | undefined> = new Array<Due[] | undefined>(AttemptQueue.SLOTS);
  /** Every slot before this instant has fired. */
  private cursor: number;
  private count = 0;
  /** Earliest non-empty slot when known, else undefined (found by scanning from the cursor). */
  private earliest: number | undefined;

  constructor(private readonly time: VirtualTime) {
    this.cursor = time.now();
  }

  /** Runs `d.fire()` after `ms` (at least 1) of virtual time. */
  after(ms: number, d: Due): void {
    const now = this.time.now();
    const at = now + Math.max(1, Math.round(ms));
    if (this.count === 0) this.cursor = now + 1;
    if (at - this.cursor >= AttemptQueue.SLOTS) {
      this.time.setTimeout(() => d.fire(), at - now);
      return;
    }
    const i = at & MASK;
    const slot = this.slots[i];
    if (slot === undefined) this.slots[i] = [d];
    else slot.push(d);
    if (this.count === 0 || (this.earliest !== undefined && at < this.earliest)) this.earliest = at;
    this.count++;
  }

  nextAt(): number | undefined {
    if (this.count === 0) return undefined;
    if (this.earliest === undefined) {
      // Everything queued lies within SLOTS of the cursor, so the first occupied slot is the earliest.
      let t = this.cursor;
      while (this.slots[t & MASK] === undefined) t++;
      this.earliest = t;
    }
    return this.earliest;
  }

  /** Fires everything due at `t`, which must not be later than nextAt(). */
  fireAt(t: number): void {
    if (this.count > 0 && this.nextAt() === t) {
      const i = t & MASK;
      const slot = this.slots[i]!;
      // Swapped out first: a fired attempt may schedule into the same slot one ring later.
      this.slots[i] = undefined;
      this.count -= slot.length;
      this.earliest = undefined;
      this.cursor = t + 1;
      for (const d of slot) d.fire();
    } else if (t >= this.cursor) {
      this.cursor = t + 1;
    }
  }
}

/**
 * The CreateSession client as the refresher sees it: up to `policy.maxAttempts` attempts,
 * waiting `backoffDelayMs` (full jitter, capped) in virtual time between them, as
 * src/session/client.ts does. No Retry-After is modelled (the service's 429s are not
 * documented to carry one). Stateless apart from shared handles, so one instance serves
 * the whole fleet.
 *
 * The account decides when the answer arrives rather than half a round trip earlier: one
 * wait per attempt (backoff and round trip together) instead of two; it shifts each call
 * by 25-75 ms (half its round trip), which no 1 s statistic notices.
 */
export class SimulatedCreateSession implements CredentialSource {
  readonly queue: AttemptQueue;
  private readonly throttled: SidecarError;

  constructor(
    readonly account: SimulatedAccount,
    readonly time: VirtualTime,
    readonly random: Random,
    private readonly latencyMs: readonly [number, number],
    readonly policy: RetryPolicy = REFRESHER_RETRY_POLICY,
    /** Called just before a fetch settles (promise continuations are then pending). */
    readonly onSettle: () => void = () => undefined,
  ) {
    this.queue = new AttemptQueue(time);
    // One instance for every failed fetch: nothing mutates it, and building millions of
    // errors (with stack traces) would dominate the run time.
    this.throttled = new SidecarError(
      'SERVICE_THROTTLED',
      // Short: the refresher flattens every failure's message with a regex, once per failed run.
      'CreateSession throttled (429); lengthen --session-duration or spread the fleet across accounts',
      { details: { status: 429, attempts: policy.maxAttempts } },
    );
  }

  getCredentials(signal?: AbortSignal): Promise<Credentials> {
    return new Promise<Credentials>((resolve, reject) => {
      this.queue.after(this.roundTrip(), new Fetch(this, resolve, reject, signal));
    });
  }

  /** The error a fetch ends with when every attempt was throttled. */
  get throttledError(): SidecarError {
    return this.throttled;
  }

  roundTrip(): number {
    const [lo, hi] = this.latencyMs;
    return Math.round(lo + (hi - lo) * this.random.float());
  }
}

/** One getCredentials call in flight: its attempts, driven by the AttemptQueue. */
class Fetch implements Due {
  private attempt = 1;

  constructor(
    private readonly client: SimulatedCreateSession,
    private readonly resolve: (c: Credentials) => void,
    private readonly reject: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  fire(): void {
    const client = this.client;
    if (this.signal?.aborted) {
      client.onSettle();
      this.reject(this.signal.reason);
      return;
    }
    const c = client.account.call(client.time.now());
    if (c !== undefined) {
      client.onSettle();
      this.resolve(c);
    } else if (this.attempt >= client.policy.maxAttempts || client.policy.retryThrottled === false) {
      client.onSettle();
      this.reject(client.throttledError);
    } else {
      const wait = backoffDelayMs(this.attempt, client.policy, client.random.float());
      this.attempt++;
      client.queue.after(wait + client.roundTrip(), this);
    }
  }
}

export interface FleetOptions {
  sidecars: number;
  hours: number;
  /** CreateSession durationSeconds (900..43200). */
  sessionSeconds: number;
  /** The account's CreateSession limit, calls a second. */
  ratePerSecond: number;
  /** Tokens the bucket can save up; default max(1, ratePerSecond). */
  burst?: number;
  /** Round trip to the service, uniform in [lo, hi] ms; default 50-150. */
  latencyMs?: readonly [number, number];
  /** Starts are spread uniformly over this many seconds (default 0: all at t=0). */
  startSpreadSeconds?: number;
  seed?: number;
  /** The refresher's --min-remaining; default its own default (30 min). */
  minRemainingMs?: number;
  /** The client's retry policy under the refresher; default REFRESHER_RETRY_POLICY (one attempt per refresh). */
  retryPolicy?: RetryPolicy;
  /** The refresher's backoff cap after a throttled refresh; default its own (THROTTLED_RETRY_CAP_MS). */
  throttledRetryCapMs?: number;
  /** Called about once per virtual hour (long runs report progress). */
  onProgress?(p: FleetProgress): void;
}

export interface FleetProgress {
  virtualHours: number;
  wallSeconds: number;
  calls: number;
  acquired: number;
}

export interface FleetResult {
  sidecars: number;
  hours: number;
  sessionSeconds: number;
  ratePerSecond: number;
  burst: number;
  seed: number;
  /** Highest number of CreateSession calls in any 1 s bucket, and where it was. */
  peakCallsPerSecond: number;
  peakAtSecond: number;
  /** Calls over the whole run divided by its length. */
  meanCallsPerSecond: number;
  /** Calls a second after every sidecar first had credentials (undefined if some never did). */
  steadyCallsPerSecond: number | undefined;
  totalCalls: number;
  throttledCalls: number;
  acceptedCalls: number;
  /** Seconds from the start until every sidecar had credentials at least once. */
  allAcquiredAfterSeconds: number | undefined;
  acquiredSidecars: number;
  /** Sidecars that lost servable credentials at some point after first having them. */
  lapsedSidecars: number;
  /** Longest such gap in seconds; a gap still open at the end counts up to the end. */
  longestLapseSeconds: number;
  lapsesOpenAtEnd: number;
  /** Refresher runs (each up to maxAttempts calls) that failed, and the longest failure streak. */
  failedRefreshes: number;
  maxConsecutiveFailures: number;
  /** Timers fired on VirtualTime: the refreshers' own (the client's waits are `totalCalls`). */
  refresherTimersFired: number;
  wallSeconds: number;
  /** CPU time of the whole process during the run (wall time depends on what else the machine runs). */
  cpuSeconds: number;
  /**
   * Sidecars whose refresher.current() disagreed at the end with the lapse bookkeeping
   * (should be 0: the statistics are derived from the refresher's own callbacks).
   */
  bookkeepingMismatches: number;
  perMinute: { calls: number[]; throttled: number[] };
}

/** Runs one scenario to completion. Memory peaks at about 7 KB per sidecar (100,000: 730 MB resident) during a retry storm. */
export async function simulateFleet(opts: FleetOptions): Promise<FleetResult> {
  validate(opts);
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const n = opts.sidecars;
  const seed = opts.seed ?? 1;
  const burst = opts.burst ?? Math.max(1, opts.ratePerSecond);
  const horizonSeconds = opts.hours * 3_600;
  const t0 = SIM_EPOCH_MS;
  const end = t0 + opts.hours * HOUR;

  const time = new VirtualTime(t0);
  const random = new SeededRandom(seed);
  const account = new SimulatedAccount({ ratePerSecond: opts.ratePerSecond, burst, sessionSeconds: opts.sessionSeconds, t0, horizonSeconds });
  /*
   * Set when a timer callback may have queued promise continuations: a fetch settled, or a
   * refresher's own timer fired (VirtualTime's fired count moved). The loop below drains
   * them only then: a client retry that merely schedules its next attempt queues nothing,
   * and skipping the macrotask turn for those is much of the speed at 100,000 sidecars.
   */
  let pendingContinuations = false;
  const client = new SimulatedCreateSession(account, time, random, opts.latencyMs ?? [50, 150], opts.retryPolicy ?? REFRESHER_RETRY_POLICY, () => {
    pendingContinuations = true;
  });

  const firstAt = new Float64Array(n).fill(Number.NaN);
  /** Instant from which each sidecar's held credentials stop being servable (schedule.servable). */
  const servableUntil = new Float64Array(n);
  const lapsed = new Uint8Array(n);
  let acquired = 0;
  let lapsedSidecars = 0;
  let longestLapse = 0;
  let failedRefreshes = 0;
  let maxConsecutiveFailures = 0;

  const refreshers: CredentialRefresher[] = new Array<CredentialRefresher>(n);
  for (let i = 0; i < n; i++) {
    refreshers[i] = new CredentialRefresher({
      source: client,
      clock: time,
      timers: time,
      random,
      logger: nullLogger,
      ...(opts.minRemainingMs !== undefined ? { minRemainingMs: opts.minRemainingMs } : {}),
      ...(opts.throttledRetryCapMs !== undefined ? { throttledRetryCapMs: opts.throttledRetryCapMs } : {}),
      onSuccess: (c) => {
        const now = time.now();
        if (Number.isNaN(firstAt[i]!)) {
          firstAt[i] = now;
          acquired++;
        } else if (now >= servableUntil[i]!) {
          longestLapse = Math.max(longestLapse, now - servableUntil[i]!);
          if (lapsed[i] === 0) {
            lapsed[i] = 1;
            lapsedSidecars++;
          }
        }
        servableUntil[i] = c.expiration - SERVE_SKEW_MS;
      },
      onFailure: (_err, info) => {
        failedRefreshes++;
        if (info.consecutiveFailures > maxConsecutiveFailures) maxConsecutiveFailures = info.consecutiveFailures;
      },
    });
  }

  const spreadMs = Math.max(0, (opts.startSpreadSeconds ?? 0) * SECOND);
  for (const r of refreshers) {
    if (spreadMs === 0) r.start();
    else time.setTimeout(() => r.start(), random.float() * spreadMs);
  }

  const hourMs = HOUR;
  let nextProgress = t0 + hourMs;
  await drain();
  const attempts = client.queue;
  for (;;) {
    const a = time.nextAt();
    const b = attempts.nextAt();
    const next = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    if (next === undefined || next > end) break;
    // Every timer due at this millisecond fires, then promise continuations run once for
    // all of them: the refresher reads `now()` in those continuations, so time must not move
    // on before they have run; one macrotask turn per busy millisecond, and only when
    // something settled, instead of one per timer (VirtualTime.advanceToAsync).
    const fired = time.firedCount();
    time.advanceTo(next);
    attempts.fireAt(next);
    if (pendingContinuations || time.firedCount() !== fired) {
      pendingContinuations = false;
      await drain();
    }
    if (next >= nextProgress) {
      opts.onProgress?.({ virtualHours: (next - t0) / hourMs, wallSeconds: (performance.now() - wallStart) / 1000, calls: account.totalCalls, acquired });
      while (nextProgress <= next) nextProgress += hourMs;
    }
  }
  time.advanceTo(end);
  await drain();

  let lapsesOpenAtEnd = 0;
  let mismatches = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(firstAt[i]!)) continue;
    const servableNow = end < servableUntil[i]!;
    if ((refreshers[i]!.current() !== undefined) !== servableNow) mismatches++;
    if (!servableNow) {
      lapsesOpenAtEnd++;
      longestLapse = Math.max(longestLapse, end - servableUntil[i]!);
      if (lapsed[i] === 0) {
        lapsed[i] = 1;
        lapsedSidecars++;
      }
    }
  }
  for (const r of refreshers) r.stop();
  await drain();

  let peak = 0;
  let peakAt = 0;
  for (let s = 0; s < horizonSeconds; s++) {
    const v = account.callsPerSecond[s]!;
    if (v > peak) {
      peak = v;
      peakAt = s;
    }
  }
  let allAcquiredAt: number | undefined;
  if (acquired === n) {
    let last = t0;
    for (let i = 0; i < n; i++) last = Math.max(last, firstAt[i]!);
    allAcquiredAt = (last - t0) / SECOND;
  }
  let steady: number | undefined;
  if (allAcquiredAt !== undefined) {
    const from = Math.ceil(allAcquiredAt);
    if (horizonSeconds - from >= 60) {
      let calls = 0;
      for (let s = from; s < horizonSeconds; s++) calls += account.callsPerSecond[s]!;
      steady = calls / (horizonSeconds - from);
    }
  }

  return {
    sidecars: n,
    hours: opts.hours,
    sessionSeconds: opts.sessionSeconds,
    ratePerSecond: opts.ratePerSecond,
    burst,
    seed,
    peakCallsPerSecond: peak,
    peakAtSecond: peakAt,
    meanCallsPerSecond: account.totalCalls / horizonSeconds,
    steadyCallsPerSecond: steady,
    totalCalls: account.totalCalls,
    throttledCalls: account.throttledCalls,
    acceptedCalls: account.totalCalls - account.throttledCalls,
    allAcquiredAfterSeconds: allAcquiredAt,
    acquiredSidecars: acquired,
    lapsedSidecars,
    longestLapseSeconds: longestLapse / SECOND,
    lapsesOpenAtEnd,
    failedRefreshes,
    maxConsecutiveFailures,
    refresherTimersFired: time.firedCount(),
    wallSeconds: (performance.now() - wallStart) / 1000,
    cpuSeconds: cpuSecondsSince(cpuStart),
    bookkeepingMismatches: mismatches,
    perMinute: {
      calls: perMinute(account.callsPerSecond, horizonSeconds),
      throttled: perMinute(account.throttledPerSecond, horizonSeconds),
    },
  };
}

/**
 * The smallest fleet-wide CreateSession rate that keeps every sidecar's credentials
 * servable: each credential must be replaced within its servable life. A fleet above
 * `ratePerSecond` of this lapses whatever the jitter or backoff.
 */
export function floorCallsPerSecond(sidecars: number, sessionSeconds: number): number {
  return sidecars / (sessionSeconds - SERVE_SKEW_MS / SECOND);
}

/**
 * The fleet-wide CreateSession rate of the refresh schedule when every refresh succeeds:
 * each sidecar refreshes on average at the middle of its jitter window (schedule.refreshDelayMs).
 */
export function nominalCallsPerSecond(sidecars: number, sessionSeconds: number, minRemainingMs?: number): number {
  const meanDelayMs = refreshDelayMs({
    issuedAt: 0,
    expiration: sessionSeconds * SECOND,
    random01: 0.5,
    ...(minRemainingMs !== undefined ? { minRemainingMs } : {}),
  });
  return sidecars / (meanDelayMs / SECOND);
}

function perMinute(perSecond: Uint32Array, horizonSeconds: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < horizonSeconds; s += 60) {
    let sum = 0;
    for (let k = s; k < Math.min(s + 60, horizonSeconds); k++) sum += perSecond[k]!;
    out.push(sum);
  }
  return out;
}

function validate(o: FleetOptions): void {
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new SidecarError('CONFIG_INVALID', `fleet simulation: ${what}`);
  };
  check(Number.isInteger(o.sidecars) && o.sidecars >= 1 && o.sidecars <= MAX_SIDECARS, `sidecars must be an integer from 1 to ${MAX_SIDECARS}`);
  check(Number.isFinite(o.hours) && o.hours > 0 && o.hours <= MAX_HOURS, `hours must be above 0 and at most ${MAX_HOURS}`);
  check(
    Number.isInteger(o.sessionSeconds) && o.sessionSeconds >= MIN_SESSION_SECONDS && o.sessionSeconds <= MAX_SESSION_SECONDS,
    `session seconds must be an integer from ${MIN_SESSION_SECONDS} to ${MAX_SESSION_SECONDS} (the service's range)`,
  );
  check(Number.isFinite(o.ratePerSecond) && o.ratePerSecond > 0 && o.ratePerSecond <= 100_000, 'rate must be above 0 and at most 100000 calls/s');
  if (o.burst !== undefined) check(Number.isFinite(o.burst) && o.burst >= 1 && o.burst <= 1_000_000, 'burst must be from 1 to 1000000');
  if (o.latencyMs !== undefined) {
    const [lo, hi] = o.latencyMs;
    check(Number.isFinite(lo) && Number.isFinite(hi) && lo >= 0 && hi >= lo && hi <= 60_000, 'latency must be lo-hi ms with 0 <= lo <= hi <= 60000');
  }
  if (o.retryPolicy !== undefined) {
    const p = o.retryPolicy;
    check(Number.isInteger(p.maxAttempts) && p.maxAttempts >= 1 && p.maxAttempts <= 100, 'client maxAttempts must be an integer from 1 to 100');
    check(
      Number.isFinite(p.baseDelayMs) && p.baseDelayMs >= 0 && Number.isFinite(p.maxDelayMs) && p.maxDelayMs >= 0,
      'client retry delays must be finite and non-negative',
    );
  }
  if (o.startSpreadSeconds !== undefined) {
    check(Number.isFinite(o.startSpreadSeconds) && o.startSpreadSeconds >= 0 && o.startSpreadSeconds <= o.hours * 3_600, 'start spread must be within the run');
  }
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** One macrotask turn: every queued promise continuation, at any depth, runs before it. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
