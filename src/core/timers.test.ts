import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSystemTimers, VirtualTime } from './timers.js';

test('VirtualTime fires due timers in time order and moves the clock to each', () => {
  const vt = new VirtualTime(1_000);
  const seen: Array<[string, number]> = [];
  vt.setTimeout(() => seen.push(['c', vt.now()]), 300);
  vt.setTimeout(() => seen.push(['a', vt.now()]), 100);
  vt.setTimeout(() => seen.push(['b', vt.now()]), 200);
  vt.setTimeout(() => seen.push(['late', vt.now()]), 5_000);
  vt.advance(250);
  assert.deepEqual(seen, [
    ['a', 1_100],
    ['b', 1_200],
  ]);
  assert.equal(vt.now(), 1_250);
  vt.advanceTo(1_300);
  assert.deepEqual(seen.at(-1), ['c', 1_300]);
  assert.equal(vt.pending(), 1);
  assert.equal(vt.nextAt(), 6_000);
});

test('VirtualTime keeps insertion order for equal due times and clamps delays below 1 ms to 1 ms', () => {
  const vt = new VirtualTime();
  const order: number[] = [];
  for (let i = 0; i < 20; i++) vt.setTimeout(() => order.push(i), 10);
  vt.setTimeout(() => order.push(-1), 0);
  vt.setTimeout(() => order.push(-2), Number.NaN);
  vt.advance(0);
  assert.deepEqual(order, []);
  vt.advance(1);
  assert.deepEqual(order, [-1, -2]);
  vt.advance(9);
  assert.deepEqual(order, [-1, -2, ...Array.from({ length: 20 }, (_, i) => i)]);
});

test('VirtualTime fires timers scheduled by fired callbacks within the same advance', () => {
  const vt = new VirtualTime();
  const times: number[] = [];
  const tick = (): void => {
    times.push(vt.now());
    if (times.length < 5) vt.setTimeout(tick, 100);
  };
  vt.setTimeout(tick, 100);
  vt.advance(1_000);
  assert.deepEqual(times, [100, 200, 300, 400, 500]);
  assert.equal(vt.pending(), 0);
  assert.equal(vt.firedCount(), 5);
});

test('VirtualTime clearTimeout cancels, also from inside another callback, and is idempotent', () => {
  const vt = new VirtualTime();
  const fired: string[] = [];
  const b = vt.setTimeout(() => fired.push('b'), 200);
  vt.setTimeout(() => {
    fired.push('a');
    vt.clearTimeout(b);
  }, 100);
  vt.advance(1_000);
  assert.deepEqual(fired, ['a']);
  vt.clearTimeout(b);
  assert.equal(vt.pending(), 0);
  assert.equal(vt.nextAt(), undefined);
});

test('VirtualTime heap: 20,000 random timers with cancellations fire exactly once each, in order', () => {
  const vt = new VirtualTime();
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const fired: Array<{ at: number; id: number }> = [];
  const handles = [];
  const cancelled = new Set<number>();
  for (let id = 0; id < 20_000; id++) {
    const delay = 1 + Math.floor(rnd() * 1_000_000);
    handles.push({ id, at: delay, h: vt.setTimeout(() => fired.push({ at: vt.now(), id }), delay) });
  }
  for (const x of handles) {
    if (rnd() < 0.6) {
      vt.clearTimeout(x.h);
      cancelled.add(x.id);
    }
  }
  assert.equal(vt.pending(), 20_000 - cancelled.size);
  vt.advance(2_000_000);
  assert.equal(fired.length, 20_000 - cancelled.size);
  for (let i = 1; i < fired.length; i++) {
    const prev = fired[i - 1]!;
    const cur = fired[i]!;
    assert.ok(prev.at < cur.at || (prev.at === cur.at && prev.id < cur.id), 'fired in (time, insertion) order');
  }
  const expected = handles.filter((x) => !cancelled.has(x.id));
  for (const f of fired) assert.equal(f.at, handles[f.id]!.at);
  assert.equal(new Set(fired.map((f) => f.id)).size, expected.length);
});

test('advanceAsync lets async work started by a timer finish before the next timer fires', async () => {
  const vt = new VirtualTime();
  const log: string[] = [];
  vt.setTimeout(() => {
    void (async () => {
      log.push(`start@${vt.now()}`);
      await Promise.resolve();
      await new Promise<void>((r) => queueMicrotask(r));
      log.push(`done@${vt.now()}`);
      // A timer scheduled by the async continuation, inside the advanced range.
      vt.setTimeout(() => log.push(`follow-up@${vt.now()}`), 50);
    })();
  }, 100);
  vt.setTimeout(() => log.push(`second@${vt.now()}`), 120);
  await vt.advanceAsync(200);
  assert.deepEqual(log, ['start@100', 'done@100', 'second@120', 'follow-up@150']);
  assert.equal(vt.now(), 200);
});

test('runUntilIdle settles the current instant without moving time', async () => {
  const vt = new VirtualTime(500);
  const log: string[] = [];
  void (async () => {
    await Promise.resolve();
    vt.setTimeout(() => log.push('next-ms'), 0);
    vt.setTimeout(() => log.push('later'), 1_000);
    log.push('continued');
  })();
  await vt.runUntilIdle();
  assert.deepEqual(log, ['continued']);
  assert.equal(vt.now(), 500);
  await vt.advanceAsync(1);
  assert.deepEqual(log, ['continued', 'next-ms']);
});

test('system timers fire, can be cleared, and chunk delays longer than one Node timer', async () => {
  const timers = createSystemTimers({ maxChunkMs: 3, unref: true });
  const cleared = timers.setTimeout(() => assert.fail('a cleared timer fired'), 5);
  timers.clearTimeout(cleared);
  const started = Date.now();
  // 12 ms through 3 ms chunks: must not fire at the first chunk boundary.
  await new Promise<void>((resolve) => {
    const ref = setTimeout(() => undefined, 1_000); // these timers are unref'd: keep the test alive
    timers.setTimeout(() => {
      clearTimeout(ref);
      resolve();
    }, 12);
  });
  assert.ok(Date.now() - started >= 9, 'fires after the whole delay, not at the first chunk boundary');
});

test("system timers are ref'd by default, so a process waiting on them stays alive", async () => {
  const { spawnSync } = await import('node:child_process');
  const url = new URL('./timers.js', import.meta.url).href;
  // Each child schedules a 20 ms timer and then waits on a promise nothing will settle.
  const run = (options: string) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { createSystemTimers } = await import(${JSON.stringify(url)});` +
          `createSystemTimers(${options}).setTimeout(() => { console.log('fired'); process.exit(0); }, 20);` +
          `await new Promise(() => {});`,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
  const ref = run('{}');
  assert.equal(ref.stdout.trim(), 'fired', "the default (ref'd) timer keeps the process alive until it fires");
  const unref = run('{ unref: true }');
  assert.equal(unref.stdout.trim(), '', "an unref'd timer alone does not");
  assert.equal(unref.status, 13, 'Node reports the unsettled await');
});
