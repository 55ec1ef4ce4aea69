import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Random } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import type { LogFields, Logger } from '../core/logger.js';
import { VirtualTime } from '../core/timers.js';
import { errnoOf, RetryingWriter, writeFailureAdvice, writeRetryDelayMs } from './write-retry.js';

const T0 = Date.UTC(2026, 0, 1);
const random: Random = { float: () => 0.5, bytes: (n) => Buffer.alloc(n) };

function recorder(): { logger: Logger; lines: Array<{ level: string; msg: string; fields: LogFields }> } {
  const lines: Array<{ level: string; msg: string; fields: LogFields }> = [];
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}) =>
      void lines.push({ level, msg, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

const unwritable = (errno: string) =>
  new SidecarError('FILE_UNWRITABLE', `cannot write /x/credentials (${errno})`, { details: { path: '/x/credentials', errno } });

test('writeFailureAdvice names the cause and the fix for each errno', () => {
  assert.match(writeFailureAdvice('ENOSPC', '/x/f', '/x'), /full \(ENOSPC\): free space/);
  assert.match(writeFailureAdvice('EROFS', '/x/f', '/x'), /read-only file system/);
  assert.match(writeFailureAdvice('EACCES', '/x/f', '/x'), /permission denied/);
  assert.match(writeFailureAdvice('EIO', '/x/f', '/x'), /I\/O error/);
  assert.match(writeFailureAdvice(undefined, '/x/f', '/x'), /unknown error/);
  assert.equal(errnoOf(unwritable('EROFS')), 'EROFS');
  assert.equal(errnoOf(Object.assign(new Error('x'), { code: 'EIO' })), 'EIO');
  assert.equal(errnoOf(new SidecarError('FILE_UNWRITABLE', 'x', { cause: Object.assign(new Error('y'), { code: 'ENOSPC' }) })), 'ENOSPC');
  assert.equal(errnoOf('nope'), undefined);
});

test('writeRetryDelayMs: capped exponential with full jitter and a floor', () => {
  assert.deepEqual(
    [1, 2, 3, 7, 8, 50].map((n) => writeRetryDelayMs(n, 1, 1_000, 60_000)),
    [1_000, 2_000, 4_000, 60_000, 60_000, 60_000],
  );
  assert.equal(writeRetryDelayMs(3, 0, 1_000, 60_000), 100);
  assert.equal(writeRetryDelayMs(3, Number.NaN, 1_000, 60_000), 100);
  assert.equal(writeRetryDelayMs(1, 0.5, 50, 60_000, 10), 25);
});

test('a failing write is retried with backoff until it lands, the cause logged once, each failure counted', async () => {
  const vt = new VirtualTime(T0);
  const { logger, lines } = recorder();
  const failuresSeen: string[] = [];
  let full = true;
  const attempts: number[] = [];
  const w = new RetryingWriter({
    what: 'the credentials file',
    path: '/x/credentials',
    dir: '/x',
    timers: vt,
    random,
    logger,
    onFailure: (e) => failuresSeen.push(e),
  });
  w.submit(async () => {
    attempts.push(vt.now());
    if (full) throw unwritable('ENOSPC');
  });
  await vt.advanceAsync(10_000);
  assert.ok(attempts.length >= 4, `${attempts.length} attempts in 10 s`);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! >= gaps[i - 1]!, 'backoff grows');
  assert.equal(lines.filter((l) => l.level === 'error').length, 1, 'the cause is logged once');
  assert.match(lines.find((l) => l.level === 'error')!.msg, /is full \(ENOSPC\).*previous file is left as it was.*retrying/);
  assert.equal(failuresSeen.length, attempts.length);
  assert.ok(failuresSeen.every((e) => e === 'ENOSPC'));
  full = false;
  await vt.advanceAsync(120_000);
  await w.idle();
  assert.equal(w.consecutiveFailures, 0);
  assert.ok(lines.some((l) => l.msg === 'the credentials file written again after failures'));
  const n = attempts.length;
  await vt.advanceAsync(600_000);
  assert.equal(attempts.length, n, 'nothing more once it landed');
});

test('a new cause is logged again; newer content supersedes the retried one and is tried at once', async () => {
  const vt = new VirtualTime(T0);
  const { logger, lines } = recorder();
  const written: string[] = [];
  let errno: string | undefined = 'EROFS';
  const w = new RetryingWriter({ what: 'the credentials file', path: '/x/credentials', dir: '/x', timers: vt, random, logger });
  const content = (v: string) => async () => {
    if (errno !== undefined) throw unwritable(errno);
    written.push(v);
  };
  w.submit(content('v1'));
  await vt.advanceAsync(3_000);
  errno = 'EACCES';
  await vt.advanceAsync(10_000);
  assert.deepEqual(
    lines.filter((l) => l.level === 'error').map((l) => l.fields['errno']),
    ['EROFS', 'EACCES'],
  );
  errno = undefined;
  w.submit(content('v2'));
  await vt.advanceAsync(1);
  await w.idle();
  assert.deepEqual(written, ['v2'], 'only the newest content is written, at once');
});

test('maxRetries gives up on that content; stop cancels a scheduled retry', async () => {
  const vt = new VirtualTime(T0);
  const { logger, lines } = recorder();
  let calls = 0;
  const w = new RetryingWriter({ what: 'the cache', path: '/c/e', dir: '/c', timers: vt, random, logger, maxRetries: 2, baseMs: 50, capMs: 200 });
  w.submit(async () => {
    calls++;
    throw unwritable('EIO');
  });
  await vt.advanceAsync(5_000);
  await w.idle();
  assert.equal(calls, 3);
  assert.match(lines.find((l) => l.level === 'error')!.msg, /I\/O error/);

  const w2 = new RetryingWriter({ what: 'the cache', path: '/c/e', dir: '/c', timers: vt, random, logger });
  let calls2 = 0;
  w2.submit(async () => {
    calls2++;
    throw unwritable('EIO');
  });
  await vt.advanceAsync(1);
  w2.stop();
  await vt.advanceAsync(600_000);
  assert.equal(calls2, 1);
  await w2.idle();
});
