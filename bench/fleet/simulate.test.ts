/**
 * A small version of the fleet simulation (docs/fleet-simulation.md): real refreshers on
 * virtual time against a simulated, rate-limited CreateSession. 200 sidecars at 0.02
 * calls/s is the 100,000-sidecar, 10 calls/s fleet scaled down 500 times: the restart
 * herd takes the same 2.8 virtual hours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureRetryDelayMs, refreshDelayMs } from '../../src/refresh/schedule.js';
import { DEFAULT_RETRY_POLICY, REFRESHER_RETRY_POLICY, backoffDelayMs } from '../../src/session/retry.js';
import { VirtualTime } from '../../src/core/timers.js';
import { AttemptQueue, floorCallsPerSecond, SeededRandom, simulateFleet, TokenBucket } from './fleet.js';
import { duration, formatTable } from './report.js';

const SIDECARS = 200;
const RATE = 0.02;
const HOURS = 6;
const LONG_SESSION = 43_200;
/** 2,001 evenly spaced draws of [0, 1): means of the backoff rules without sampling noise. */
const draws = Array.from({ length: 2_001 }, (_, i) => Math.min(i / 2_000, 1 - Number.EPSILON));
const mean = (f: (r: number) => number): number => draws.reduce((s, r) => s + f(r), 0) / draws.length;

/** Mean length of one refused refresher run: every attempt's round trip (mean 100 ms) and the client's backoffs between them. */
const CLIENT = REFRESHER_RETRY_POLICY;
/** Attempts of one throttled run: under the refresher a 429 ends the run at once. */
const THROTTLED_ATTEMPTS = CLIENT.retryThrottled === false ? 1 : CLIENT.maxAttempts;
const RUN_MEAN_MS =
  THROTTLED_ATTEMPTS * 100 + Array.from({ length: THROTTLED_ATTEMPTS - 1 }, (_, i) => mean((r) => backoffDelayMs(i + 1, CLIENT, r))).reduce((a, b) => a + b, 0);
const meanRetryDelays = new Map<number, number>();
function meanRetryDelayMs(failures: number): number {
  let m = meanRetryDelays.get(failures);
  if (m === undefined) {
    // Called as the refresher calls it when it holds nothing servable and was throttled: the time, no expiry.
    m = mean((r) => failureRetryDelayMs(failures, r, { now: 0, throttled: true }));
    meanRetryDelays.set(failures, m);
  }
  return m;
}

/**
 * Expected number of refresher runs of a sidecar that holds no credentials and is refused
 * for `waitMs`, from the refresher's own backoff rule (so a lower cap raises the bound,
 * and this test keeps matching the schedule it exercises).
 */
function expectedRuns(waitMs: number): number {
  let t = 0;
  for (let n = 1; n <= 10_000; n++) {
    t += RUN_MEAN_MS + meanRetryDelayMs(Math.min(n, 64));
    if (t >= waitMs) return n;
    if (n >= 64) return n + Math.ceil((waitMs - t) / (RUN_MEAN_MS + meanRetryDelayMs(64)));
  }
  return 10_000;
}

test('a fleet restarted together under a tight rate limit converges without lapses and without an unbounded storm', async () => {
  const r = await simulateFleet({ sidecars: SIDECARS, hours: HOURS, sessionSeconds: LONG_SESSION, ratePerSecond: RATE, seed: 7 });

  // Every sidecar got credentials, about as fast as the rate limit allows (200 / 0.02 = 10,000 s).
  const herdSeconds = SIDECARS / RATE;
  assert.equal(r.acquiredSidecars, SIDECARS);
  assert.ok(r.allAcquiredAfterSeconds !== undefined);
  assert.ok(r.allAcquiredAfterSeconds >= herdSeconds * 0.9, `converged in ${r.allAcquiredAfterSeconds} s: faster than the limit allows`);
  assert.ok(r.allAcquiredAfterSeconds <= herdSeconds * 1.25, `converged in ${duration(r.allAcquiredAfterSeconds)}`);

  // Once a sidecar had credentials it never lost them, and the bookkeeping agrees with the refreshers.
  assert.equal(r.lapsedSidecars, 0);
  assert.equal(r.longestLapseSeconds, 0);
  assert.equal(r.bookkeepingMismatches, 0);

  // The account never issued more than its limit allows.
  assert.ok(r.acceptedCalls <= RATE * HOURS * 3_600 + r.burst);
  // Successes: the first credentials, plus at most one refresh each this early in a 12 h session.
  const minRefreshMs = refreshDelayMs({ issuedAt: 0, expiration: LONG_SESSION * 1_000, random01: 0 });
  const perSidecar = 1 + Math.floor((HOURS * 3_600_000) / minRefreshMs);
  assert.equal(perSidecar, 2);
  assert.ok(r.acceptedCalls >= SIDECARS && r.acceptedCalls <= SIDECARS * perSidecar, `accepted ${r.acceptedCalls}`);

  // Throttled calls: sidecar i waits about i/N of the herd; each refused run costs
  // maxAttempts calls. 1.5x the expectation, plus steady-state collisions (a refresh that
  // meets an empty bucket backs off up to the token interval: a handful of runs).
  const maxAttempts = THROTTLED_ATTEMPTS;
  let runs = 0;
  for (let i = 0; i < SIDECARS; i++) runs += expectedRuns(((i + 0.5) / SIDECARS) * r.allAcquiredAfterSeconds * 1_000);
  const collisionCalls = (r.acceptedCalls - SIDECARS) * maxAttempts * expectedRuns(1_000 / RATE);
  const throttledBound = 1.5 * maxAttempts * runs + collisionCalls;
  assert.ok(r.throttledCalls <= throttledBound, `throttled ${r.throttledCalls} > bound ${Math.round(throttledBound)}`);
  assert.ok(r.totalCalls <= throttledBound + SIDECARS * perSidecar, `total ${r.totalCalls}`);
  assert.equal(r.totalCalls, r.acceptedCalls + r.throttledCalls);
});

test('a fleet whose sessions need more calls than the account allows lapses whatever the jitter', async () => {
  // The same shape at half the size: 100 sidecars on 1 h sessions need at least
  // 100 / 3595 s = 0.028 calls/s; the account gives 0.01.
  const sidecars = 100;
  const rate = 0.01;
  assert.ok(floorCallsPerSecond(sidecars, 3_600) > rate);
  const r = await simulateFleet({ sidecars, hours: 1.5, sessionSeconds: 3_600, ratePerSecond: rate, seed: 7 });
  assert.ok(r.acquiredSidecars < sidecars, 'the herd cannot finish within 1.5 h at this rate');
  assert.equal(r.allAcquiredAfterSeconds, undefined);
  assert.ok(r.lapsedSidecars > 0, 'credentials lapse once they were obtained');
  assert.ok(r.acceptedCalls <= rate * 1.5 * 3_600 + r.burst);
  assert.equal(r.bookkeepingMismatches, 0);
  assert.match(formatTable([{ result: r, notes: ['overloaded'] }]), /never \(\d+ by 1\.5 h\)/);
});

test('token bucket: the burst, then the refill rate; refused calls take no token', () => {
  const b = new TokenBucket(10, 10, 0);
  let ok = 0;
  for (let i = 0; i < 50; i++) if (b.take(0)) ok++;
  assert.equal(ok, 10);
  assert.equal(b.take(99), false, '0.99 tokens refilled');
  assert.equal(b.take(100), true);
  // One second later: 10 more, never more than the burst.
  ok = 0;
  for (let i = 0; i < 50; i++) if (b.take(10_000)) ok++;
  assert.equal(ok, 10);
});

test('attempt queue: every wait fires at its own virtual millisecond, in order, also past the ring and beyond it', () => {
  const time = new VirtualTime(1_000);
  const queue = new AttemptQueue(time);
  const random = new SeededRandom(5);
  const fired: Array<{ due: number; at: number }> = [];
  const wait = (ms: number): void => {
    const due = time.now() + ms;
    queue.after(ms, { fire: () => fired.push({ due, at: time.now() }) });
  };
  for (let i = 0; i < 2_000; i++) wait(1 + Math.floor(random.float() * 40_000));
  // Longer than the ring: handed to VirtualTime, still on time.
  wait(AttemptQueue.SLOTS + 5_000);
  // Waits scheduled from inside a firing, some of them landing in the ring's next lap.
  queue.after(30_000, { fire: () => [1, 25_000, AttemptQueue.SLOTS - 10].forEach(wait) });
  let steps = 0;
  for (;;) {
    const a = time.nextAt();
    const b = queue.nextAt();
    const next = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    if (next === undefined) break;
    time.advanceTo(next);
    queue.fireAt(next);
    steps++;
  }
  assert.equal(fired.length, 2_000 + 1 + 3);
  for (const f of fired) assert.equal(f.at, f.due);
  for (let i = 1; i < fired.length; i++) assert.ok(fired[i]!.at >= fired[i - 1]!.at, 'in time order');
  assert.ok(steps <= fired.length + 1);
  assert.equal(queue.nextAt(), undefined);
});

test('seeded random: reproducible, in [0, 1), spread out', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const xs = Array.from({ length: 10_000 }, () => a.float());
  assert.deepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b.float()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const avg = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(avg - 0.5) < 0.02);
  assert.notDeepEqual(new SeededRandom(43).float(), new SeededRandom(42).float());
});

test('simulation inputs are bounded', async () => {
  await assert.rejects(simulateFleet({ sidecars: 0, hours: 1, sessionSeconds: 3_600, ratePerSecond: 10 }), { code: 'CONFIG_INVALID' });
  await assert.rejects(simulateFleet({ sidecars: 10, hours: 1, sessionSeconds: 600, ratePerSecond: 10 }), { code: 'CONFIG_INVALID' });
  await assert.rejects(simulateFleet({ sidecars: 10, hours: 1e6, sessionSeconds: 3_600, ratePerSecond: 10 }), { code: 'CONFIG_INVALID' });
  await assert.rejects(simulateFleet({ sidecars: 10, hours: 1, sessionSeconds: 3_600, ratePerSecond: 0 }), { code: 'CONFIG_INVALID' });
});

test('throttle-aware refreshing: at least 10x fewer throttled calls after a restart than round 1, as fast, no lapses', async () => {
  const common = { sidecars: SIDECARS, hours: HOURS, sessionSeconds: LONG_SESSION, ratePerSecond: RATE, seed: 7 };
  const round1 = await simulateFleet({ ...common, retryPolicy: DEFAULT_RETRY_POLICY, throttledRetryCapMs: 60_000 });
  const now = await simulateFleet(common);
  assert.ok(now.throttledCalls * 10 <= round1.throttledCalls, `throttled ${now.throttledCalls} vs ${round1.throttledCalls}`);
  assert.equal(now.lapsedSidecars, 0);
  assert.equal(round1.lapsedSidecars, 0);
  assert.ok(now.allAcquiredAfterSeconds !== undefined && round1.allAcquiredAfterSeconds !== undefined);
  // "As fast": the limit sets the pace (N / R); the longer backoff may leave a few tokens unused at the very end.
  assert.ok(
    now.allAcquiredAfterSeconds <= round1.allAcquiredAfterSeconds * 1.1,
    `${duration(now.allAcquiredAfterSeconds)} vs ${duration(round1.allAcquiredAfterSeconds)}`,
  );
});
