import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Random } from '../core/clock.js';
import type { CredentialSource, Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import type { LogFields, Logger, LogLevel } from '../core/logger.js';
import { VirtualTime } from '../core/timers.js';
import { CredentialRefresher } from './refresher.js';

const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 1);

type Outcome = 'ok' | Error | ((now: number) => Credentials);

/**
 * A scripted stand-in for the CreateSession client (the refresher is what is under test):
 * each call answers after `latencyMs` of virtual time with fresh credentials of
 * `lifetimeMs`, unless `script` says otherwise for that call.
 */
class ScriptedSource implements CredentialSource {
  readonly calls: number[] = [];
  lifetimeMs: number;
  latencyMs: number;
  script: (call: number, now: number) => Outcome = () => 'ok';

  constructor(
    private readonly vt: VirtualTime,
    opts: { lifetimeMs: number; latencyMs?: number },
  ) {
    this.lifetimeMs = opts.lifetimeMs;
    this.latencyMs = opts.latencyMs ?? 0;
  }

  async getCredentials(signal?: AbortSignal): Promise<Credentials> {
    const n = this.calls.push(this.vt.now());
    if (this.latencyMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const h = this.vt.setTimeout(resolve, this.latencyMs);
        signal?.addEventListener('abort', () => {
          this.vt.clearTimeout(h);
          reject(signal.reason);
        });
      });
    }
    const now = this.vt.now();
    const outcome = this.script(n, now);
    if (outcome instanceof Error) throw outcome;
    if (typeof outcome === 'function') return outcome(now);
    return {
      accessKeyId: `ASIA${n}`,
      secretAccessKey: `SECRET-${n}-never-logged`,
      sessionToken: `TOKEN-${n}-never-logged`,
      expiration: now + this.lifetimeMs,
    };
  }
}

class CapturingLogger implements Logger {
  readonly lines: Array<{ level: LogLevel; msg: string; fields: LogFields }> = [];
  debug(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'debug', msg, fields });
  }
  info(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'error', msg, fields });
  }
  child(): Logger {
    return this;
  }
  assertNoSecrets(): void {
    const text = JSON.stringify(this.lines);
    assert.doesNotMatch(text, /SECRET-|TOKEN-/, 'no secret key or session token in any log line');
  }
}

function fixedRandom(x: number): Random {
  return { float: () => x, bytes: (n) => Buffer.alloc(n) };
}

/** Deterministic, evenly spread draws (a 31-bit LCG) for runs that should look like a real fleet member. */
function seededRandom(seed: number): Random {
  let s = seed;
  return {
    float: () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31;
    },
    bytes: (n) => Buffer.alloc(n),
  };
}

function setup(opts: { lifetimeMs: number; latencyMs?: number; random?: Random; minRemainingMs?: number }) {
  const vt = new VirtualTime(T0);
  const source = new ScriptedSource(vt, opts);
  const logger = new CapturingLogger();
  const refresher = new CredentialRefresher({
    source,
    clock: vt,
    timers: vt,
    random: opts.random ?? fixedRandom(0.5),
    logger,
    ...(opts.minRemainingMs !== undefined ? { minRemainingMs: opts.minRemainingMs } : {}),
  });
  return { vt, source, logger, refresher };
}

const unavailable = (): SidecarError => new SidecarError('SERVICE_UNAVAILABLE', 'Roles Anywhere answered 503; retrying');

test('fetches in the background at start and serves nothing before that', async () => {
  const { vt, source, refresher, logger } = setup({ lifetimeMs: HOUR, latencyMs: 300 });
  assert.equal(refresher.current(), undefined);
  assert.equal(refresher.status().ready, false);
  refresher.start();
  refresher.start();
  assert.equal(source.calls.length, 1, 'start is idempotent');
  assert.equal(refresher.current(), undefined, 'nothing to serve while the first call is in flight');
  const first = refresher.waitForFirst();
  await vt.advanceAsync(300);
  const c = await first;
  assert.equal(c.accessKeyId, 'ASIA1');
  assert.equal(refresher.current(), c);
  assert.equal(refresher.generation, 1);
  assert.deepEqual(refresher.snapshot(), { credentials: c, generation: 1 });
  const s = refresher.status();
  assert.equal(s.ready, true);
  assert.equal(s.credentialsExpireAt, T0 + 300 + HOUR);
  assert.equal(s.lastSuccessAt, T0 + 300);
  assert.equal(s.consecutiveFailures, 0);
  // random 0.5 over the 15..22.5 min window of a 1 h credential.
  assert.equal(s.nextRefreshAt, T0 + 300 + 18.75 * MIN);
  // Already holding credentials: waitForFirst answers at once.
  assert.equal(await refresher.waitForFirst(), c);
  refresher.stop();
  assert.equal(vt.pending(), 0, 'stop leaves no timer behind');
  logger.assertNoSecrets();
});

test('scheduled refreshes keep every served credential above 30 min of life for a day', async () => {
  const { vt, source, refresher, logger } = setup({ lifetimeMs: HOUR, latencyMs: 200, random: seededRandom(7) });
  refresher.start();
  await vt.advanceAsync(1 * SEC);
  const gens = new Set<number>();
  for (let minute = 0; minute < 24 * 60; minute++) {
    const c = refresher.current();
    assert.ok(c !== undefined, `credentials at minute ${minute}`);
    assert.ok(c.expiration - vt.now() >= 30 * MIN, `at least 30 min left at minute ${minute}`);
    assert.equal(refresher.status().ready, true);
    gens.add(refresher.generation);
    await vt.advanceAsync(MIN);
  }
  // One refresh every 15..22.5 min: between 64 and 97 calls in 24 h.
  assert.ok(source.calls.length >= 64 && source.calls.length <= 97, `${source.calls.length} calls`);
  for (let i = 1; i < source.calls.length; i++) {
    const gap = source.calls[i]! - source.calls[i - 1]!;
    assert.ok(gap >= 15 * MIN && gap <= 22.5 * MIN + 200, `gap ${gap}`);
  }
  assert.equal(refresher.generation, source.calls.length);
  assert.ok(gens.size > 60);
  refresher.stop();
  logger.assertNoSecrets();
});

test('a failing source keeps the last good credentials, retries with growing delays, and never serves expired ones', async () => {
  const failures: number[] = [];
  const vt = new VirtualTime(T0);
  const source = new ScriptedSource(vt, { lifetimeMs: HOUR });
  source.script = (n) => (n === 1 ? 'ok' : unavailable());
  const logger = new CapturingLogger();
  const refresher = new CredentialRefresher({
    source,
    clock: vt,
    timers: vt,
    random: fixedRandom(0.999),
    logger,
    onFailure: (err, info) => {
      assert.ok(err instanceof SidecarError);
      failures.push(info.consecutiveFailures);
    },
  });
  refresher.start();
  const first = await refresher.waitForFirst();
  // First scheduled refresh near the end of the window (random 0.999): about 22.5 min.
  await vt.advanceAsync(22.5 * MIN);
  assert.equal(source.calls.length, 2);
  assert.equal(refresher.current(), first, 'the failed refresh did not replace the credentials');
  assert.equal(refresher.status().consecutiveFailures, 1);
  assert.equal(refresher.status().lastErrorCode, 'SERVICE_UNAVAILABLE');

  // Step through to past the expiry, one second at a time.
  for (let t = 0; t < 40 * MIN; t += SEC) {
    await vt.advanceAsync(SEC);
    const c = refresher.current();
    if (vt.now() < first.expiration - 5 * SEC) assert.equal(c, first);
    else assert.equal(c, undefined, 'expired credentials are never returned');
    if (c !== undefined) assert.ok(c.expiration - vt.now() > 5 * SEC);
  }
  assert.equal(refresher.snapshot(), undefined);
  const s = refresher.status();
  assert.equal(s.ready, false);
  assert.equal(s.credentialsExpireAt, first.expiration);
  assert.ok(s.nextRefreshAt !== undefined && s.nextRefreshAt > vt.now(), 'keeps trying by itself');

  const gaps = source.calls
    .slice(1)
    .map((t, i) => t - source.calls[i]!)
    .slice(1);
  // 1, 2, 4, 8, 16, 32 s (x0.999), then the 60 s cap.
  assert.deepEqual(gaps.slice(0, 7), [999, 1_998, 3_996, 7_992, 15_984, 31_968, 59_940]);
  for (const g of gaps) assert.ok(g >= 500 && g <= 60_000, `gap ${g}`);
  assert.deepEqual(
    failures,
    Array.from({ length: failures.length }, (_, i) => i + 1),
  );

  const warns = logger.lines.filter((l) => l.level === 'warn');
  const errors = logger.lines.filter((l) => l.level === 'error');
  assert.ok(warns.length > 0 && warns.every((l) => l.fields['code'] === 'SERVICE_UNAVAILABLE'));
  assert.ok(errors.length > 0, 'failures once nothing is servable are errors');
  assert.ok(errors.every((l) => l.fields['code'] === 'SERVICE_UNAVAILABLE' && l.fields['servingUntil'] === undefined));
  logger.assertNoSecrets();
  refresher.stop();
});

test('retries speed up before the held credentials lapse', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: HOUR, random: fixedRandom(0.999) });
  source.script = (n) => (n === 1 ? 'ok' : unavailable());
  refresher.start();
  const first = await refresher.waitForFirst();
  await vt.advanceAsync(first.expiration - 2 * MIN - vt.now());
  const before = source.calls.length;
  await vt.advanceAsync(2 * MIN - 5 * SEC);
  const nearExpiry = source.calls.filter((t) => t > first.expiration - 2 * MIN);
  assert.ok(source.calls.length > before);
  // The last attempt comes within a second of the credentials becoming unservable.
  assert.ok(first.expiration - 5 * SEC - nearExpiry.at(-1)! <= SEC, 'an attempt just before the lapse');
  refresher.stop();
});

test('recovers by itself after a two-hour outage, at about one call a minute during it', async () => {
  const { vt, source, refresher, logger } = setup({ lifetimeMs: HOUR, random: seededRandom(42) });
  const outageFrom = T0 + 10 * MIN;
  const outageTo = outageFrom + 2 * HOUR;
  source.script = (_n, now) =>
    now >= outageFrom && now < outageTo ? new SidecarError('ENDPOINT_UNREACHABLE', 'connect ECONNREFUSED; check --endpoint') : 'ok';
  refresher.start();
  await vt.runUntilIdle();
  assert.equal(refresher.generation, 1);
  await vt.advanceAsync(outageTo - vt.now());
  const during = source.calls.filter((t) => t >= outageFrom && t < outageTo).length;
  assert.ok(during >= 110 && during <= 400, `${during} calls during the outage`);
  assert.equal(refresher.current(), undefined);
  assert.equal(refresher.generation, 1);
  await vt.advanceAsync(60 * SEC);
  const c = refresher.current();
  assert.ok(c !== undefined, 'credentials again within the 60 s retry cap');
  const s = refresher.status();
  assert.equal(s.ready, true);
  assert.equal(s.consecutiveFailures, 0);
  assert.equal(s.lastErrorCode, 'ENDPOINT_UNREACHABLE', 'the last error stays visible for diagnostics');
  assert.equal(refresher.generation, 2);
  assert.ok(logger.lines.some((l) => l.msg === 'credentials refreshed after failures' && Number(l.fields['failedAttempts']) === during));
  refresher.stop();
});

test('concurrent refreshNow calls coalesce into one CreateSession', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: HOUR, latencyMs: 500 });
  const calls = Array.from({ length: 10 }, (_, i) => refresher.refreshNow(`test-${i}`));
  assert.equal(source.calls.length, 1);
  await vt.advanceAsync(500);
  const results = await Promise.all(calls);
  assert.ok(results.every((c) => c === results[0]));
  assert.equal(refresher.generation, 1);
  // Not started: no background refresh was scheduled.
  assert.equal(refresher.status().nextRefreshAt, undefined);
  assert.equal(vt.pending(), 0);

  // Started, with the start fetch in flight: refreshNow joins it.
  refresher.start();
  assert.equal(source.calls.length, 1, 'start after refreshNow reuses the fresh credentials');
  assert.ok(refresher.status().nextRefreshAt !== undefined);
  const again = Array.from({ length: 10 }, () => refresher.refreshNow('sighup'));
  assert.equal(source.calls.length, 2);
  await vt.advanceAsync(500);
  const second = await Promise.all(again);
  assert.ok(second.every((c) => c.accessKeyId === 'ASIA2'));
  assert.equal(refresher.generation, 2);
  refresher.stop();
});

test('refreshNow rejects on failure but the held credentials stay', async () => {
  const { source, refresher } = setup({ lifetimeMs: HOUR });
  refresher.start();
  const c = await refresher.waitForFirst();
  source.script = () => new SidecarError('SERVICE_ACCESS_DENIED', 'AccessDeniedException: check the trust policy');
  await assert.rejects(refresher.refreshNow('identity reload'), (e: unknown) => e instanceof SidecarError && e.code === 'SERVICE_ACCESS_DENIED');
  assert.equal(refresher.current(), c);
  assert.equal(refresher.status().consecutiveFailures, 1);
  refresher.stop();
});

test('short 60 s credentials are renewed continuously without a tight loop', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: 60 * SEC, latencyMs: 200, random: seededRandom(3) });
  refresher.start();
  await vt.advanceAsync(SEC);
  for (let s = 0; s < 3600; s++) {
    const c = refresher.current();
    assert.ok(c !== undefined, `credentials at second ${s}`);
    assert.equal(refresher.status().ready, true, `ready at second ${s}`);
    await vt.advanceAsync(SEC);
  }
  // One call every 18..24 s (30-40 % of 60 s): about 150-200 in an hour.
  assert.ok(source.calls.length >= 145 && source.calls.length <= 3600 / 18 + 2, `${source.calls.length} calls`);
  refresher.stop();
});

test('short credentials with a dead service: bounded calls, and expired ones are not served', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: 60 * SEC, random: seededRandom(9) });
  source.script = (n) => (n === 1 ? 'ok' : unavailable());
  refresher.start();
  const first = await refresher.waitForFirst();
  for (let s = 0; s < 3600; s++) {
    await vt.advanceAsync(SEC);
    if (vt.now() >= first.expiration - 5 * SEC) assert.equal(refresher.current(), undefined);
  }
  // Backoff capped at 60 s with full jitter: about 120 calls an hour once it is at the cap.
  assert.ok(source.calls.length <= 250, `${source.calls.length} calls in an hour`);
  assert.ok(source.calls.length >= 60, 'keeps trying at least once a minute');
  refresher.stop();
});

test('credentials already expired or empty on arrival count as a failure', async () => {
  const { vt, source, refresher, logger } = setup({ lifetimeMs: HOUR });
  source.script = (n) =>
    n === 1
      ? (now) => ({ accessKeyId: 'ASIAOLD', secretAccessKey: 'SECRET-x', sessionToken: 'TOKEN-x', expiration: now - MIN })
      : n === 2
        ? (now) => ({ accessKeyId: '', secretAccessKey: '', sessionToken: '', expiration: now + HOUR })
        : n === 3
          ? () => ({ accessKeyId: 'ASIAX' }) as unknown as Credentials
          : 'ok';
  refresher.start();
  await vt.runUntilIdle();
  assert.equal(refresher.current(), undefined);
  assert.equal(refresher.generation, 0);
  assert.equal(refresher.status().lastErrorCode, 'RESPONSE_MALFORMED');
  assert.match(String(logger.lines.at(-1)?.fields['message']), /NTP/);
  await vt.advanceAsync(SEC);
  assert.equal(source.calls.length, 2);
  assert.equal(refresher.current(), undefined);
  assert.match(String(logger.lines.at(-1)?.fields['message']), /empty or invalid credentials/);
  assert.equal(refresher.status().consecutiveFailures, 2);
  // A malformed object (fields missing) is a failure too, and the loop goes on.
  await vt.advanceAsync(SEC);
  assert.equal(source.calls.length, 3);
  assert.equal(refresher.status().consecutiveFailures, 3);
  assert.equal(refresher.current(), undefined);
  await vt.advanceAsync(2 * SEC);
  assert.equal(refresher.current()?.accessKeyId, 'ASIA4');
  logger.assertNoSecrets();
  refresher.stop();
});

test('waitForFirst times out with the last failure, and honours an abort signal', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: HOUR });
  source.script = () => new SidecarError('CERT_EXPIRED', 'the certificate expired; renew it');
  refresher.start();
  const waiting = refresher.waitForFirst(undefined, 10 * SEC);
  const rejected = assert.rejects(waiting, (e: unknown) => e instanceof SidecarError && e.code === 'CERT_EXPIRED');
  await vt.advanceAsync(10 * SEC);
  await rejected;

  const ac = new AbortController();
  const aborted = refresher.waitForFirst(ac.signal);
  ac.abort(new Error('caller gave up'));
  await assert.rejects(aborted, /caller gave up/);

  // Non-SidecarError failures are reported with the INTERNAL code.
  source.script = () => new TypeError('fetch failed');
  await assert.rejects(refresher.refreshNow('test'), TypeError);
  assert.equal(refresher.status().lastErrorCode, 'INTERNAL');
  refresher.stop();
  assert.equal(vt.pending(), 0);
});

test('waitForFirst with no failure yet times out with TIMEOUT', async () => {
  const { vt, refresher } = setup({ lifetimeMs: HOUR, latencyMs: HOUR });
  refresher.start();
  const w = assert.rejects(refresher.waitForFirst(undefined, 5 * SEC), (e: unknown) => e instanceof SidecarError && e.code === 'TIMEOUT');
  await vt.advanceAsync(5 * SEC);
  await w;
  refresher.stop();
});

test('stop ignores the in-flight result, rejects waiters, and leaves no timers', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: HOUR, latencyMs: SEC });
  refresher.start();
  const waiter = assert.rejects(refresher.waitForFirst(), (e: unknown) => e instanceof SidecarError && e.code === 'NO_CREDENTIALS');
  await vt.advanceAsync(500);
  refresher.stop();
  await waiter;
  await vt.advanceAsync(HOUR);
  assert.equal(refresher.current(), undefined);
  assert.equal(refresher.generation, 0);
  assert.equal(source.calls.length, 1);
  assert.equal(vt.pending(), 0);
  await assert.rejects(refresher.refreshNow('late'), (e: unknown) => e instanceof SidecarError && e.code === 'NO_CREDENTIALS');
  await assert.rejects(refresher.waitForFirst(), (e: unknown) => e instanceof SidecarError);
  refresher.start();
  assert.equal(source.calls.length, 1, 'stop is final');
});

test('callbacks receive durations and reasons; a throwing callback does not break refreshing', async () => {
  const vt = new VirtualTime(T0);
  const source = new ScriptedSource(vt, { lifetimeMs: HOUR, latencyMs: 250 });
  const logger = new CapturingLogger();
  const seen: Array<{ durationMs: number; reason: string }> = [];
  const refresher = new CredentialRefresher({
    source,
    clock: vt,
    timers: vt,
    random: fixedRandom(0),
    logger,
    onSuccess: (_c, info) => {
      seen.push(info);
      throw new Error('metrics exploded');
    },
  });
  refresher.start();
  await vt.advanceAsync(250);
  await vt.advanceAsync(15 * MIN + 250);
  assert.deepEqual(seen, [
    { durationMs: 250, reason: 'start' },
    { durationMs: 250, reason: 'scheduled' },
  ]);
  assert.equal(refresher.generation, 2);
  assert.ok(logger.lines.some((l) => l.level === 'error' && l.msg.includes('onSuccess')));
  refresher.stop();
});

test('a source that throws synchronously is retried like any failure', async () => {
  const vt = new VirtualTime(T0);
  let calls = 0;
  const source: CredentialSource = {
    getCredentials: () => {
      calls++;
      if (calls <= 2) throw new SidecarError('SIGNING_FAILED', 'signing failed; check the key');
      return Promise.resolve({ accessKeyId: 'ASIAX', secretAccessKey: 'SECRET-s', sessionToken: 'TOKEN-s', expiration: vt.now() + HOUR });
    },
  };
  const refresher = new CredentialRefresher({ source, clock: vt, timers: vt, random: fixedRandom(0.5) });
  await assert.rejects(refresher.refreshNow('one'), /signing failed/);
  await assert.rejects(refresher.refreshNow('two'), /signing failed/);
  assert.equal(calls, 2, 'a settled call is not reused');
  assert.equal((await refresher.refreshNow('three')).accessKeyId, 'ASIAX');
  refresher.start();
  assert.equal(calls, 3);
  refresher.stop();
  assert.equal(vt.pending(), 0);
});

const throttled = (): SidecarError => new SidecarError('SERVICE_THROTTLED', 'CreateSession answered 429; retrying');

test('a throttled refresher with nothing held backs off to minutes, not 60 s, and recovers when the limit lets it in', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: HOUR, random: seededRandom(7) });
  const until = T0 + 2 * HOUR;
  source.script = (_n, now) => (now < until ? throttled() : 'ok');
  refresher.start();
  await vt.advanceAsync(until - T0);
  const gaps = source.calls.slice(1).map((t, i) => t - source.calls[i]!);
  assert.ok(Math.max(...gaps) > 60 * SEC, `some waits exceed the 60 s outage cap: ${Math.max(...gaps)} ms`);
  assert.ok(Math.max(...gaps) <= 5 * MIN, 'never more than the 5 min throttle cap');
  // An outage of other kinds (ENDPOINT_UNREACHABLE above) makes 110-400 calls in 2 h; throttled, far fewer.
  assert.ok(source.calls.length < 60, `${source.calls.length} calls in two throttled hours`);
  await vt.advanceAsync(5 * MIN);
  assert.ok(refresher.current() !== undefined, 'credentials within the 5 min cap after the throttling ends');
  refresher.stop();
});

test('a throttled holder still retries before its credentials lapse', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: 20 * MIN, random: seededRandom(3), minRemainingMs: 5 * MIN });
  refresher.start();
  await vt.runUntilIdle();
  assert.equal(refresher.generation, 1);
  const heldUntil = refresher.current()!.expiration;
  source.script = (n) => (n < 12 ? throttled() : 'ok');
  await vt.advanceAsync(heldUntil - vt.now() - 6 * SEC);
  assert.ok(refresher.generation >= 2 || source.calls.filter((t) => t > T0).length >= 4, 'several attempts before the lapse');
  refresher.stop();
});

test('the throttle cap is an option (the fleet simulation compares the old 60 s one)', async () => {
  const vt = new VirtualTime(T0);
  const source = new ScriptedSource(vt, { lifetimeMs: HOUR });
  source.script = () => throttled();
  const refresher = new CredentialRefresher({ source, clock: vt, timers: vt, random: fixedRandom(0.999), throttledRetryCapMs: 60 * SEC });
  refresher.start();
  await vt.advanceAsync(HOUR);
  const gaps = source.calls.slice(1).map((t, i) => t - source.calls[i]!);
  assert.ok(Math.max(...gaps) <= 60 * SEC);
  refresher.stop();
});

test('refreshWithin spreads a rotation-triggered refresh, at once when nothing is held', async () => {
  const { vt, source, refresher, logger } = setup({ lifetimeMs: HOUR, random: fixedRandom(0.5) });
  refresher.start();
  await vt.runUntilIdle();
  const before = source.calls.length;
  refresher.refreshWithin('identity-reload', 300 * SEC);
  await vt.advanceAsync(149 * SEC);
  assert.equal(source.calls.length, before, 'not yet: half of the 300 s window with random 0.5');
  await vt.advanceAsync(2 * SEC);
  assert.equal(source.calls.length, before + 1);
  assert.ok(logger.lines.some((l) => l.msg === 'refresh planned with jitter' && l.fields['reason'] === 'identity-reload'));
  // 0: at once.
  refresher.refreshWithin('sighup', 0);
  await vt.runUntilIdle();
  assert.equal(source.calls.length, before + 2);
  refresher.stop();

  // Nothing held (the first fetch failing): at once, whatever the window.
  const s2 = setup({ lifetimeMs: HOUR });
  s2.source.script = (n) => (n === 1 ? unavailable() : 'ok');
  s2.refresher.start();
  await s2.vt.advanceAsync(1);
  assert.equal(s2.refresher.current(), undefined);
  const n0 = s2.source.calls.length;
  s2.refresher.refreshWithin('identity-reload', 300 * SEC);
  await s2.vt.advanceAsync(1);
  assert.equal(s2.source.calls.length, n0 + 1);
  s2.refresher.stop();
});

test('refreshWithin: the window is cut to half the held life, and an earlier scheduled refresh is kept', async () => {
  const { vt, source, refresher } = setup({ lifetimeMs: 2 * MIN, random: fixedRandom(0.999), minRemainingMs: 0 });
  refresher.start();
  await vt.runUntilIdle();
  const held = refresher.current()!;
  const next = refresher.status().nextRefreshAt!;
  refresher.refreshWithin('identity-reload', 3_600 * SEC);
  assert.ok(refresher.status().nextRefreshAt! <= Math.min(next, vt.now() + (held.expiration - 5 * SEC - vt.now()) / 2 + 1));
  await vt.advanceAsync(held.expiration - vt.now() - 6 * SEC);
  assert.ok(source.calls.length >= 2, 'refreshed before the held credentials stopped being servable');
  refresher.stop();
});
