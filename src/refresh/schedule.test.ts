import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Credentials } from '../core/credentials.js';
import { configureFuzzSeed } from '../../test/helpers/fuzz-seed.js';

configureFuzzSeed();
import {
  DEFAULT_MIN_REMAINING_MS,
  failureRetryDelayMs,
  goalAchievable,
  isFresh,
  lifetimeWarning,
  refreshDelayMs,
  refreshFloorMs,
  servable,
  THROTTLED_RETRY_CAP_MS,
} from './schedule.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 1);

/** 1,001 evenly spaced draws including both ends of [0, 1). */
const draws = [...Array.from({ length: 1000 }, (_, i) => i / 1000), 1 - Number.EPSILON];

function delays(lifetimeMs: number, minRemainingMs = DEFAULT_MIN_REMAINING_MS): number[] {
  return draws.map((random01) => refreshDelayMs({ issuedAt: T0, expiration: T0 + lifetimeMs, minRemainingMs, random01 }));
}

function creds(expiration: number, over: Partial<Credentials> = {}): Credentials {
  return { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token', expiration, ...over };
}

test('1 h session: refreshes 15 to 22.5 min after issue, leaving room for retries above 30 min', () => {
  const d = delays(HOUR);
  assert.equal(Math.min(...d), 15 * MIN);
  assert.equal(Math.max(...d), 22.5 * MIN);
  for (const x of d) {
    assert.ok(HOUR - x >= DEFAULT_MIN_REMAINING_MS + 7 * MIN, 'at least 7 min of retries before dropping below 30 min');
  }
});

test('12 h session: refreshes between half and three quarters of the goal window', () => {
  const d = delays(12 * HOUR);
  const window = 12 * HOUR - DEFAULT_MIN_REMAINING_MS;
  assert.equal(Math.min(...d), window / 2);
  assert.ok(Math.max(...d) <= window * 0.75);
  for (const x of d) assert.ok(12 * HOUR - x > DEFAULT_MIN_REMAINING_MS + 2 * HOUR);
});

test('jitter spreads a fleet started together across the window', () => {
  for (const lifetime of [HOUR, 12 * HOUR, 15 * MIN, 60_000]) {
    const d = delays(lifetime);
    const lo = Math.min(...d);
    const hi = Math.max(...d);
    assert.ok(hi - lo >= lifetime * 0.09, `spread for ${lifetime} ms is ${hi - lo} ms`);
    // Ten equal buckets over the range each get about a tenth of the evenly spaced draws.
    const buckets = new Array<number>(10).fill(0);
    for (const x of d) buckets[Math.min(9, Math.floor(((x - lo) / (hi - lo)) * 10))]! += 1;
    for (const b of buckets) assert.ok(b >= 80 && b <= 120, `bucket counts ${buckets.join(',')}`);
  }
});

test('short sessions (15 min, 60 s) refresh at about a third of their life, never below the floor', () => {
  for (const lifetime of [15 * MIN, 60_000]) {
    assert.equal(goalAchievable(lifetime), false);
    for (const x of delays(lifetime)) {
      assert.ok(x >= 0.3 * lifetime && x <= 0.4 * lifetime, `${x} for lifetime ${lifetime}`);
      assert.ok(x >= refreshFloorMs(lifetime));
      // A credential at its refresh time still counts as fresh (more than half its life left).
      assert.ok(isFresh(creds(T0 + lifetime), T0 + x, DEFAULT_MIN_REMAINING_MS, T0));
    }
  }
});

test('property: the delay respects the floor and the goal wherever the goal is achievable', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 48 * 3600 }),
      fc.integer({ min: 0, max: 4 * 3600 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (lifetimeS, minRemainingS, random01) => {
        const lifetime = lifetimeS * 1000;
        const minRemaining = minRemainingS * 1000;
        const d = refreshDelayMs({ issuedAt: T0, expiration: T0 + lifetime, minRemainingMs: minRemaining, random01 });
        assert.ok(d >= 1_000 && d >= Math.floor(0.1 * lifetime), 'floor: >= 1 s and >= 10 % of the lifetime');
        if (lifetime > 1_000) assert.ok(d < lifetime, 'refreshes before expiry');
        if (goalAchievable(lifetime, minRemaining)) {
          assert.ok(lifetime - d >= minRemaining - 1, 'still has min-remaining left at refresh');
        } else {
          assert.ok(lifetimeWarning(lifetimeS, minRemaining) !== undefined);
        }
        // The credential is fresh at its refresh time, so readiness holds through a normal refresh.
        if (lifetime >= 10_000) assert.ok(isFresh(creds(T0 + lifetime), T0 + d, minRemaining, T0));
      },
    ),
    { numRuns: 2000 },
  );
});

test('already expired or zero-lifetime input still yields the 1 s floor, never 0', () => {
  assert.equal(refreshDelayMs({ issuedAt: T0, expiration: T0 - 5_000, random01: 0.5 }), 1_000);
  assert.equal(refreshDelayMs({ issuedAt: T0, expiration: T0, random01: 0 }), 1_000);
  assert.equal(refreshDelayMs({ issuedAt: T0, expiration: T0 + HOUR, random01: Number.NaN }), 15 * MIN);
});

test('servable: non-empty and more than the 5 s skew before expiration', () => {
  const exp = T0 + HOUR;
  assert.equal(servable(creds(exp), T0), true);
  assert.equal(servable(creds(exp), exp - 5_001), true);
  assert.equal(servable(creds(exp), exp - 5_000), false);
  assert.equal(servable(creds(exp), exp + 1), false);
  assert.equal(servable(creds(exp, { sessionToken: '' }), T0), false);
  assert.equal(servable(creds(exp, { accessKeyId: '' }), T0), false);
  assert.equal(servable(creds(exp, { secretAccessKey: '' }), T0), false);
  assert.equal(servable(undefined, T0), false);
});

test('isFresh: min(min-remaining, half the lifetime) left', () => {
  const c = creds(T0 + HOUR);
  assert.equal(isFresh(c, T0 + 30 * MIN, DEFAULT_MIN_REMAINING_MS, T0), true);
  assert.equal(isFresh(c, T0 + 30 * MIN + 1, DEFAULT_MIN_REMAINING_MS, T0), false);
  const short = creds(T0 + 60_000);
  assert.equal(isFresh(short, T0 + 30_000, DEFAULT_MIN_REMAINING_MS, T0), true);
  assert.equal(isFresh(short, T0 + 30_001, DEFAULT_MIN_REMAINING_MS, T0), false);
  // Lifetime unknown: the full min-remaining is required.
  assert.equal(isFresh(short, T0, DEFAULT_MIN_REMAINING_MS), false);
  assert.equal(isFresh(creds(T0 + HOUR, { sessionToken: '' }), T0, DEFAULT_MIN_REMAINING_MS, T0), false);
});

test('failure retries: capped exponential, full jitter, never below the minimum', () => {
  // Top of the jitter range shows the exponential ceiling.
  const top = [1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map((n) => failureRetryDelayMs(n, 1 - Number.EPSILON));
  assert.deepEqual(top, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
  for (const n of [1, 3, 10, 100]) {
    for (const r of draws) {
      const d = failureRetryDelayMs(n, r);
      assert.ok(d >= 500 && d <= Math.min(60_000, 1_000 * 2 ** (n - 1)));
    }
  }
  const spread = new Set(draws.map((r) => failureRetryDelayMs(10, r)));
  assert.ok(spread.size > 500, 'full jitter spreads retries');
  assert.equal(failureRetryDelayMs(3, 0.99, { baseMs: 100, capMs: 250, minMs: 10 }), 248);
});

test('failure retries come before the held credentials lapse', () => {
  const now = T0;
  // 25 s of servable life left (expiry in 30 s minus the 5 s skew): retry within 12.5 s.
  assert.equal(failureRetryDelayMs(10, 0.99, { now, expiresAt: now + 30_000 }), 12_500);
  // Plenty of life left: the usual backoff.
  assert.equal(failureRetryDelayMs(10, 0.5, { now, expiresAt: now + HOUR }), 30_000);
  // Almost nothing left: the minimum, not a tight loop.
  assert.equal(failureRetryDelayMs(10, 0.99, { now, expiresAt: now + 5_100 }), 500);
  // Already unservable: the usual backoff.
  assert.equal(failureRetryDelayMs(10, 0.5, { now, expiresAt: now - 1 }), 30_000);
});

test('lifetimeWarning names the problem and the fix only when the goal is out of reach', () => {
  assert.equal(lifetimeWarning(3600), undefined);
  assert.equal(lifetimeWarning(43200), undefined);
  assert.equal(lifetimeWarning(2000), undefined);
  const w = lifetimeWarning(900);
  assert.ok(w !== undefined);
  assert.ok(!w.includes('\n'));
  assert.match(w, /900 s/);
  assert.match(w, /--session-duration/);
  assert.match(w, /--min-remaining/);
  assert.ok(lifetimeWarning(1999) !== undefined);
  assert.equal(lifetimeWarning(900, 5 * MIN), undefined);
});

test('after a throttled failure the backoff cap is minutes (full jitter), other failures keep 60 s', () => {
  const top = (n: number, throttled: boolean) => failureRetryDelayMs(n, 1 - Number.EPSILON, { throttled });
  assert.deepEqual(
    [1, 4, 7, 9, 10, 100].map((n) => top(n, true)),
    [1_000, 8_000, 64_000, 256_000, 300_000, 300_000],
  );
  assert.deepEqual(
    [7, 9, 100].map((n) => top(n, false)),
    [60_000, 60_000, 60_000],
  );
  assert.equal(THROTTLED_RETRY_CAP_MS, 300_000);
  // Full jitter over the whole window.
  const spread = draws.map((r) => failureRetryDelayMs(20, r, { throttled: true }));
  assert.ok(Math.min(...spread) < 30_000 && Math.max(...spread) > 270_000);
  // An explicit cap, and the held credentials' lapse, still win.
  assert.equal(failureRetryDelayMs(20, 0.99, { throttled: true, throttledCapMs: 60_000 }), 59_400);
  assert.equal(failureRetryDelayMs(20, 0.99, { throttled: true, now: T0, expiresAt: T0 + 65_000 }), 30_000);
});

test('Retry-After is a floor for the next refresh, never above the cap', () => {
  assert.equal(failureRetryDelayMs(1, 0.5, { retryAfterMs: 2_000 }), 2_000);
  assert.equal(failureRetryDelayMs(10, 0.5, { retryAfterMs: 2_000 }), 30_000, 'a longer backoff stays');
  assert.equal(failureRetryDelayMs(1, 0.5, { retryAfterMs: 3_600_000 }), 60_000);
  assert.equal(failureRetryDelayMs(1, 0.5, { retryAfterMs: 3_600_000, throttled: true }), 300_000);
  // Even when the held credentials would lapse first: asking earlier only collects another 429.
  assert.equal(failureRetryDelayMs(1, 0.5, { now: T0, expiresAt: T0 + 9_000, retryAfterMs: 4_000 }), 4_000);
  assert.equal(failureRetryDelayMs(1, 0.5, { retryAfterMs: Number.NaN }), 500);
});

test('a throttled holder backs off at most an eighth of its servable time (never below 60 s, never above 5 min)', () => {
  const at = (leftMs: number) => failureRetryDelayMs(30, 1 - Number.EPSILON, { throttled: true, now: T0, expiresAt: T0 + 5_000 + leftMs });
  assert.equal(at(3 * HOUR), 300_000);
  assert.equal(at(20 * MIN), 150_000);
  assert.equal(at(4 * MIN), 60_000);
  assert.equal(at(60_000), 30_000, 'then cut to half the time left');
});
