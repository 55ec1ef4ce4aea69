import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { configureFuzzSeed } from '../../test/helpers/fuzz-seed.js';

configureFuzzSeed();
import { DEFAULT_RETRY_POLICY, backoffDelayMs, isRetryableStatus, parseRetryAfter } from './retry.js';

const P = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 20_000 };

test('full jitter: 0 at random 0, the exponential ceiling at random -> 1', () => {
  assert.equal(backoffDelayMs(1, P, 0), 0);
  assert.equal(backoffDelayMs(1, P, 0.5), 100);
  assert.equal(backoffDelayMs(2, P, 0.5), 200);
  assert.equal(backoffDelayMs(3, P, 0.5), 400);
  assert.equal(backoffDelayMs(3, P, 0.999999), 800);
});

test('the cap bounds the delay, also for huge attempt numbers', () => {
  assert.equal(backoffDelayMs(10, P, 0.5), 10_000);
  assert.equal(backoffDelayMs(50, P, 0.999999), 20_000);
  assert.equal(backoffDelayMs(5000, P, 0.5), 10_000);
  assert.ok(Number.isFinite(backoffDelayMs(Number.MAX_SAFE_INTEGER, P, 0.7)));
});

test('property: the delay is within [0, min(cap, base*2^(n-1))] without Retry-After', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 0, max: 120_000 }),
      (n, r, base, cap) => {
        const d = backoffDelayMs(n, { maxAttempts: 5, baseDelayMs: base, maxDelayMs: cap }, r);
        assert.ok(d >= 0 && d <= Math.min(cap, base * 2 ** (n - 1)) + 0.5, `${d}`);
      },
    ),
  );
});

test('Retry-After is a floor with jitter added on top, never above the cap', () => {
  assert.equal(backoffDelayMs(1, P, 0, 3000), 3000);
  assert.equal(backoffDelayMs(1, P, 0.5, 3000), 3100);
  assert.equal(backoffDelayMs(1, P, 0.5, 60_000), 20_000);
  assert.equal(backoffDelayMs(1, P, 0.5, 0), 100);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.integer({ min: 0, max: 100_000 }),
      (n, r, ra) => {
        const d = backoffDelayMs(n, P, r, ra);
        assert.ok(d >= Math.min(ra, P.maxDelayMs) && d <= P.maxDelayMs);
      },
    ),
  );
});

test('nonsense inputs give a bounded, finite delay', () => {
  assert.equal(backoffDelayMs(0, P, 0.5), 100);
  assert.equal(backoffDelayMs(Number.NaN, P, 0.5), 100);
  assert.equal(backoffDelayMs(1, P, Number.NaN), 0);
  assert.equal(backoffDelayMs(1, P, 7), 200);
  assert.equal(backoffDelayMs(1, P, 0.5, Number.POSITIVE_INFINITY), 100);
  assert.ok(DEFAULT_RETRY_POLICY.maxAttempts >= 2 && DEFAULT_RETRY_POLICY.maxDelayMs >= DEFAULT_RETRY_POLICY.baseDelayMs);
});

test('parseRetryAfter: delay-seconds', () => {
  assert.equal(parseRetryAfter('0', 0), 0);
  assert.equal(parseRetryAfter(' 3 ', 0), 3000);
  assert.equal(parseRetryAfter('120', 0), 120_000);
  assert.equal(parseRetryAfter('999999999999', 0), 86_400_000, 'bounded to a day');
  assert.equal(parseRetryAfter(undefined, 0), undefined);
  for (const bad of ['', '-1', '1.5', 'soon', '3s', '0x10', '1'.repeat(100)]) assert.equal(parseRetryAfter(bad, 0), undefined, bad);
});

test('parseRetryAfter: HTTP-date relative to now, past dates are 0', () => {
  const now = Date.parse('2026-11-22T15:04:00Z');
  assert.equal(parseRetryAfter('Sun, 22 Nov 2026 15:04:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Sun, 22 Nov 2026 15:03:00 GMT', now), 0);
  assert.equal(parseRetryAfter('Sunday, 22-Nov-26 15:04:10 GMT', now), 10_000);
  assert.equal(parseRetryAfter('Fri, 31 Dec 2100 00:00:00 GMT', now), 86_400_000);
  assert.equal(parseRetryAfter('Sun, 99 Nov 2026 99:99:99 GMT', now), undefined);
});

test('retryable statuses are 429 and 5xx only', () => {
  for (const s of [429, 500, 502, 503, 504, 599]) assert.equal(isRetryableStatus(s), true, String(s));
  for (const s of [200, 201, 301, 400, 401, 403, 404, 409, 413, 428, 600]) assert.equal(isRetryableStatus(s), false, String(s));
});
