import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemRandom } from '../core/clock.js';
import { ImdsTokenStore } from './imds-tokens.js';

test('issued tokens are printable, distinct and valid until their TTL runs out', () => {
  const clock = new ManualClock(1_000_000);
  const store = new ImdsTokenStore({ clock });
  const a = store.issue(10);
  const b = store.issue(21600);
  assert.notEqual(a, b);
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(store.isValid(a), true);
  clock.advance(9_999);
  assert.equal(store.isValid(a), true);
  clock.advance(1);
  assert.equal(store.isValid(a), false);
  assert.equal(store.isValid(b), true);
  // An expired token is dropped on lookup.
  assert.equal(store.size, 1);
});

test('unknown, empty and oversized tokens are invalid', () => {
  const store = new ImdsTokenStore();
  const t = store.issue(60);
  assert.equal(store.isValid(''), false);
  assert.equal(store.isValid(`${t}x`), false);
  assert.equal(store.isValid(t.slice(1)), false);
  assert.equal(store.isValid('a'.repeat(100_000)), false);
});

test('TTLs outside 1..21600 are refused', () => {
  const store = new ImdsTokenStore();
  for (const ttl of [0, -1, 21601, 1.5, Number.NaN]) assert.throws(() => store.issue(ttl), RangeError);
  assert.equal(store.size, 0);
});

test('the store is bounded: expired tokens are evicted first, then the oldest', () => {
  const clock = new ManualClock(0);
  const store = new ImdsTokenStore({ clock, maxTokens: 3 });
  const long1 = store.issue(100);
  const short = store.issue(1);
  const long2 = store.issue(100);
  clock.advance(2_000);
  // Full, and `short` has expired: it goes, not the oldest.
  const fourth = store.issue(100);
  assert.equal(store.size, 3);
  assert.deepEqual(
    [long1, long2, fourth].map((t) => store.isValid(t)),
    [true, true, true],
  );
  assert.equal(store.isValid(short), false);
  // Full with nothing expired: the oldest goes.
  const fifth = store.issue(100);
  assert.equal(store.size, 3);
  assert.equal(store.isValid(long1), false);
  assert.deepEqual(
    [long2, fourth, fifth].map((t) => store.isValid(t)),
    [true, true, true],
  );
});

test('a flood of token requests never holds more than maxTokens', () => {
  const store = new ImdsTokenStore({ maxTokens: 100, random: systemRandom });
  let last = '';
  for (let i = 0; i < 1_000; i++) last = store.issue(21600);
  assert.equal(store.size, 100);
  assert.equal(store.isValid(last), true);
  store.clear();
  assert.equal(store.size, 0);
  assert.equal(store.isValid(last), false);
});

test('maxTokens must be a positive integer', () => {
  assert.throws(() => new ImdsTokenStore({ maxTokens: 0 }), RangeError);
});
