import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';
import { memoizeCredentials } from './memoize.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

function creds(n: number, expiration: number): Credentials {
  return { accessKeyId: `ASIA${n}`, secretAccessKey: 's', sessionToken: 't', expiration };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('concurrent callers share one fetch; later callers reuse the result until the refresh window', async () => {
  const clock = new ManualClock(T0);
  const pending = deferred<Credentials>();
  let calls = 0;
  const get = memoizeCredentials({ clock, refreshBeforeMs: 10 * MIN, fetch: () => (calls++, pending.promise) });
  const all = Promise.all([get(), get(), get()]);
  pending.resolve(creds(1, T0 + 60 * MIN));
  const got = await all;
  assert.equal(calls, 1);
  assert.deepEqual(new Set(got.map((c) => c.accessKeyId)), new Set(['ASIA1']));
  clock.advance(49 * MIN);
  assert.equal((await get()).accessKeyId, 'ASIA1');
  assert.equal(calls, 1, 'more than 10 minutes left: no fetch');
});

test('refreshes inside the window and on forceRefresh', async () => {
  const clock = new ManualClock(T0);
  let n = 0;
  const get = memoizeCredentials({ clock, refreshBeforeMs: 10 * MIN, fetch: async () => creds(++n, clock.now() + 60 * MIN) });
  assert.equal((await get()).accessKeyId, 'ASIA1');
  clock.advance(51 * MIN);
  assert.equal((await get()).accessKeyId, 'ASIA2');
  assert.equal((await get({ forceRefresh: true })).accessKeyId, 'ASIA3');
});

test('a failed refresh returns the previous credentials while they are valid, then rejects', async () => {
  const clock = new ManualClock(T0);
  let fail = false;
  const warnings: string[] = [];
  const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined, child: () => logger };
  const get = memoizeCredentials({
    clock,
    logger,
    fetch: async () => {
      if (fail) throw new Error('outage');
      return creds(1, clock.now() + 60 * MIN);
    },
  });
  await get();
  fail = true;
  clock.advance(55 * MIN);
  assert.equal((await get()).accessKeyId, 'ASIA1');
  assert.equal(warnings.length, 1);
  clock.advance(5 * MIN);
  await assert.rejects(get(), /outage/);
});

test('a first fetch that fails is not remembered', async () => {
  const clock = new ManualClock(T0);
  let n = 0;
  const get = memoizeCredentials({
    clock,
    fetch: async () => {
      if (++n === 1) throw new Error('first');
      return creds(n, T0 + 60 * MIN);
    },
  });
  await assert.rejects(get(), /first/);
  assert.equal((await get()).accessKeyId, 'ASIA2');
});
