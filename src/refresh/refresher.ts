/**
 * Holds the last good credentials and replaces them in the background, so the endpoints
 * (IMDS, container, credentials file) only ever READ and a client request never waits for
 * CreateSession. The official helper's defects this avoids (docs/official-helper.md):
 * it served EMPTY credentials after a failed first call, overwrote valid credentials with
 * empty ones when a refresh failed, refreshed inside the request (concurrent requests each
 * calling CreateSession), and gave up on the first failure.
 *
 * This is the outer retry layer: the source (the CreateSession client) retries each call a
 * few times quickly; the refresher retries failed refreshes with capped, jittered backoff
 * for as long as it runs, keeping the old credentials while they remain servable.
 */
import type { Clock, Random } from '../core/clock.js';
import { isoSeconds, systemClock, systemRandom } from '../core/clock.js';
import type { CredentialSource, Credentials } from '../core/credentials.js';
import { oneLine, SidecarError, toSidecarError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { nullLogger } from '../core/logger.js';
import type { TimerHandle, Timers } from '../core/timers.js';
import { systemTimers } from '../core/timers.js';
import { DEFAULT_MIN_REMAINING_MS, failureRetryDelayMs, isFresh, refreshDelayMs, SERVE_SKEW_MS, servable } from './schedule.js';

export interface RefreshSuccessInfo {
  /** How long the source took, by the injected clock. */
  durationMs: number;
  /** Why this refresh ran: `start`, `scheduled`, `retry`, or the reason given to refreshNow. */
  reason: string;
}

export interface RefreshFailureInfo {
  consecutiveFailures: number;
  reason: string;
}

export interface CredentialRefresherOptions {
  source: CredentialSource;
  clock?: Clock;
  timers?: Timers;
  random?: Random;
  logger?: Logger;
  /** Life every served credential should have left, where the session allows (default 30 min). */
  minRemainingMs?: number;
  /** Backoff cap after a throttled refresh (default THROTTLED_RETRY_CAP_MS; the fleet simulation compares others). */
  throttledRetryCapMs?: number;
  /** Called after each successful refresh (metrics). Exceptions are logged and ignored. */
  onSuccess?(c: Credentials, info: RefreshSuccessInfo): void;
  /** Called after each failed refresh (metrics). Exceptions are logged and ignored. */
  onFailure?(err: unknown, info: RefreshFailureInfo): void;
}

export interface RefresherStatus {
  /** Holding servable credentials with enough life left (see schedule.isFresh): for /readyz. */
  ready: boolean;
  /** Expiry of the held credentials, even if they have lapsed. */
  credentialsExpireAt?: number;
  lastSuccessAt?: number;
  lastFailureAt?: number;
  /** Error code of the most recent failure (kept after a later success, for diagnostics). */
  lastErrorCode?: string;
  /** Its one-line message (causes and fixes; never a secret). */
  lastErrorMessage?: string;
  consecutiveFailures: number;
  nextRefreshAt?: number;
}

/** Credentials together with the generation they belong to (endpoints cache per generation). */
export interface CredentialSnapshot {
  readonly credentials: Credentials;
  readonly generation: number;
}

interface Held {
  credentials: Credentials;
  /** Local receive time: the refresh rule measures lifetime from here. */
  issuedAt: number;
}

interface Waiter {
  resolve(c: Credentials): void;
  reject(e: unknown): void;
}

export class CredentialRefresher {
  private readonly source: CredentialSource;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly random: Random;
  private readonly log: Logger;
  private readonly minRemainingMs: number;
  private readonly throttledRetryCapMs: number | undefined;
  private readonly onSuccessCb: CredentialRefresherOptions['onSuccess'];
  private readonly onFailureCb: CredentialRefresherOptions['onFailure'];

  private held: Held | undefined;
  private gen = 0;
  private inFlight: Promise<Credentials> | undefined;
  private runs = 0;
  private settledRun = 0;
  /**
   * The in-flight call's controller (aborted by stop). One per call, not one shared: a
   * long-lived signal would collect a listener per call from any consumer that forgets to
   * remove its own.
   */
  private abort: AbortController | undefined;
  private timer: TimerHandle | undefined;
  private nextAt: number | undefined;
  private started = false;
  private stopped = false;
  private failures = 0;
  private lastError: unknown;
  private lastErrorCode: string | undefined;
  private lastSuccessAt: number | undefined;
  private lastFailureAt: number | undefined;
  private readonly waiters = new Set<Waiter>();

  constructor(options: CredentialRefresherOptions) {
    this.source = options.source;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? systemRandom;
    this.log = options.logger ?? nullLogger;
    this.minRemainingMs = Math.max(0, options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS);
    this.throttledRetryCapMs = options.throttledRetryCapMs;
    this.onSuccessCb = options.onSuccess;
    this.onFailureCb = options.onFailure;
  }

  /** Increments whenever the held credentials are replaced. */
  get generation(): number {
    return this.gen;
  }

  /** Starts the first CreateSession in the background; later ones are scheduled. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const now = this.clock.now();
    if (this.inFlight === undefined && this.held !== undefined && servable(this.held.credentials, now)) {
      // Credentials fetched by a refreshNow before start: schedule their replacement as usual.
      const due = this.held.issuedAt + this.refreshDelay(this.held.issuedAt, this.held.credentials.expiration);
      this.schedule(Math.max(0, due - now), 'scheduled');
      return;
    }
    if (this.inFlight === undefined) this.background('start');
  }

  /**
   * Stops for good: cancels the timer, aborts the in-flight call (its result is ignored)
   * and rejects pending `waitForFirst` callers. `current()` keeps answering.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTimer();
    this.abort?.abort(new SidecarError('NO_CREDENTIALS', 'the credential refresher was stopped'));
    const err = new SidecarError('NO_CREDENTIALS', 'the credential refresher was stopped before credentials were obtained; this happens during shutdown');
    for (const w of [...this.waiters]) w.reject(err);
    this.waiters.clear();
  }

  /** The last good credentials if still servable, else undefined: never expired or empty ones. */
  current(): Credentials | undefined {
    const c = this.held?.credentials;
    return servable(c, this.clock.now()) ? c : undefined;
  }

  /** `current()` with its generation, read together. */
  snapshot(): CredentialSnapshot | undefined {
    const c = this.current();
    return c === undefined ? undefined : { credentials: c, generation: this.gen };
  }

  status(): RefresherStatus {
    const now = this.clock.now();
    const s: RefresherStatus = {
      ready: this.held !== undefined && isFresh(this.held.credentials, now, this.minRemainingMs, this.held.issuedAt),
      consecutiveFailures: this.failures,
    };
    if (this.held !== undefined) s.credentialsExpireAt = this.held.credentials.expiration;
    if (this.lastSuccessAt !== undefined) s.lastSuccessAt = this.lastSuccessAt;
    if (this.lastFailureAt !== undefined) s.lastFailureAt = this.lastFailureAt;
    if (this.lastErrorCode !== undefined) s.lastErrorCode = this.lastErrorCode;
    if (this.lastError !== undefined) s.lastErrorMessage = toSidecarError(this.lastError).message;
    if (this.nextAt !== undefined) s.nextRefreshAt = this.nextAt;
    return s;
  }

  /**
   * Resolves with the first servable credentials (at once if some are held). Rejects when
   * `signal` aborts, when the refresher stops, or after `timeoutMs` (on the injected timers)
   * with the last failure's error (it names cause and fix) or a TIMEOUT error if none.
   */
  waitForFirst(signal?: AbortSignal, timeoutMs?: number): Promise<Credentials> {
    const c = this.current();
    if (c !== undefined) return Promise.resolve(c);
    if (this.stopped) {
      return Promise.reject(new SidecarError('NO_CREDENTIALS', 'the credential refresher is stopped; no credentials can be obtained'));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Credentials>((resolve, reject) => {
      let timeout: TimerHandle | undefined;
      const onAbort = (): void => waiter.reject(signal?.reason);
      const cleanup = (): void => {
        this.waiters.delete(waiter);
        if (timeout !== undefined) this.timers.clearTimeout(timeout);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        resolve: (x) => {
          cleanup();
          resolve(x);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timeout = this.timers.setTimeout(() => {
          waiter.reject(
            this.lastError !== undefined
              ? toSidecarError(this.lastError)
              : new SidecarError(
                  'TIMEOUT',
                  `no credentials within ${Math.round(timeoutMs / 1000)} s and CreateSession has not answered; check --endpoint, the network and any proxy`,
                ),
          );
        }, timeoutMs);
      }
    });
  }

  /**
   * Replaces the credentials now (identity reload, SIGHUP). Concurrent calls, and a
   * scheduled refresh already running, share one in-flight CreateSession. Rejects if it
   * fails; the held credentials are then kept and a retry is scheduled as usual.
   */
  refreshNow(reason: string): Promise<Credentials> {
    if (this.stopped) {
      return Promise.reject(new SidecarError('NO_CREDENTIALS', 'the credential refresher is stopped; no refresh is possible'));
    }
    if (this.inFlight !== undefined) return this.inFlight;
    // run() clears inFlight itself as soon as the source settles, before anyone is told,
    // so a refreshNow issued by a waiter's continuation starts a new call.
    const id = ++this.runs;
    const p = this.run(reason, id);
    // A source that throws synchronously settles run() before it returns.
    if (this.settledRun !== id) this.inFlight = p;
    return p;
  }

  /**
   * A refresh at a random point within `spreadMs` (full jitter), for triggers that reach a
   * whole fleet at once: a certificate rotation rolled out everywhere, a SIGHUP from config
   * management. The window is cut to half the time the held credentials stay servable, and
   * with nothing servable held (or `spreadMs` 0) the refresh starts at once. A refresh
   * already due sooner is left as it is.
   */
  refreshWithin(reason: string, spreadMs: number): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const held = this.current();
    if (held === undefined || !this.started || !(spreadMs > 0)) {
      this.background(reason);
      return;
    }
    if (this.inFlight !== undefined) return;
    const window = Math.max(0, Math.min(spreadMs, (held.expiration - SERVE_SKEW_MS - now) / 2));
    const delay = Math.round(window * this.random.float());
    if (this.nextAt !== undefined && this.nextAt <= now + delay) return;
    this.log.info('refresh planned with jitter', { reason, inMs: delay });
    this.schedule(delay, reason);
  }

  private background(reason: string): void {
    // Failures are logged and rescheduled inside run(); nothing awaits a background refresh.
    this.refreshNow(reason).catch(() => undefined);
  }

  private async run(reason: string, id: number): Promise<Credentials> {
    this.cancelTimer();
    const abort = new AbortController();
    this.abort = abort;
    const startedAt = this.clock.now();
    let creds: Credentials | undefined;
    let failure: { err: unknown } | undefined;
    try {
      creds = await this.source.getCredentials(abort.signal);
    } catch (err) {
      failure = { err };
    }
    // Settled: clear the in-flight marker before anyone (waiters, callbacks) is told, so a
    // refreshNow they issue starts a new call instead of joining this finished one.
    if (this.abort === abort) this.abort = undefined;
    this.inFlight = undefined;
    this.settledRun = id;
    if (this.stopped) throw this.stoppedError();
    if (failure === undefined) {
      const invalid = this.rejectUnservable(creds);
      if (invalid !== undefined) failure = { err: invalid };
    }
    if (failure !== undefined || creds === undefined) {
      const err = failure?.err;
      this.recordFailure(err, reason);
      throw err;
    }
    this.recordSuccess(creds, reason, startedAt);
    return creds;
  }

  /** A successful call whose credentials cannot be served is a failure (the official helper served them). */
  private rejectUnservable(creds: Credentials | undefined): SidecarError | undefined {
    const now = this.clock.now();
    // Checked field by field first: a source handing back a malformed object must become a
    // recorded failure with a retry, not a TypeError that stalls the loop. (A boolean, not
    // the type guard, so a rejected value can still be inspected for the message.)
    const ok: boolean = isNonEmpty(creds) && typeof creds?.expiration === 'number' && servable(creds, now);
    if (ok) return undefined;
    const expiration = typeof creds?.expiration === 'number' ? creds.expiration : Number.NaN;
    const expired = Number.isFinite(expiration) && expiration <= now + SERVE_SKEW_MS && isNonEmpty(creds);
    return new SidecarError(
      'RESPONSE_MALFORMED',
      expired
        ? `CreateSession returned credentials that expire at ${isoSeconds(expiration)}, already expired by this host's clock; check the host's time synchronisation (NTP)`
        : 'CreateSession returned empty or invalid credentials; check the service endpoint (--endpoint) and any proxy in between',
      { details: { expiration: Number.isFinite(expiration) ? isoSeconds(expiration) : 'invalid' } },
    );
  }

  private recordSuccess(creds: Credentials, reason: string, startedAt: number): void {
    const now = this.clock.now();
    const recovered = this.failures;
    this.held = { credentials: creds, issuedAt: now };
    this.gen++;
    this.failures = 0;
    this.lastSuccessAt = now;
    const delay = this.refreshDelay(now, creds.expiration);
    this.schedule(delay, 'scheduled');
    const fields = {
      reason,
      generation: this.gen,
      expiration: isoSeconds(creds.expiration),
      nextRefreshInMs: delay,
      durationMs: now - startedAt,
    };
    if (recovered > 0) this.log.info('credentials refreshed after failures', { ...fields, failedAttempts: recovered });
    else this.log.info('credentials refreshed', fields);
    for (const w of [...this.waiters]) w.resolve(creds);
    this.callback('onSuccess', () => this.onSuccessCb?.(creds, { durationMs: now - startedAt, reason }));
  }

  private recordFailure(err: unknown, reason: string): void {
    const now = this.clock.now();
    this.failures++;
    this.lastError = err;
    const sidecarError = toSidecarError(err);
    const code = sidecarError.code;
    const retryAfterMs = sidecarError.details.retryAfterMs;
    this.lastErrorCode = code;
    this.lastFailureAt = now;
    const still = this.current();
    const delay = failureRetryDelayMs(this.failures, this.random.float(), {
      now,
      throttled: code === 'SERVICE_THROTTLED',
      ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
      ...(this.throttledRetryCapMs !== undefined ? { throttledCapMs: this.throttledRetryCapMs } : {}),
      ...(still !== undefined ? { expiresAt: still.expiration } : {}),
    });
    this.schedule(delay, 'retry');
    const fields = {
      code,
      message: errorMessage(err),
      reason,
      consecutiveFailures: this.failures,
      retryInMs: delay,
      ...(still !== undefined ? { servingUntil: isoSeconds(still.expiration) } : {}),
    };
    if (still !== undefined) this.log.warn('credential refresh failed; serving the previous credentials until they expire', fields);
    else
      this.log.error('credential refresh failed and no valid credentials are held; retrying with backoff (nothing is served until a refresh succeeds)', fields);
    this.callback('onFailure', () => this.onFailureCb?.(err, { consecutiveFailures: this.failures, reason }));
  }

  private refreshDelay(issuedAt: number, expiration: number): number {
    return refreshDelayMs({ issuedAt, expiration, minRemainingMs: this.minRemainingMs, random01: this.random.float() });
  }

  private schedule(delayMs: number, reason: string): void {
    this.cancelTimer();
    // A refreshNow before start() fetches once without starting the background loop.
    if (!this.started || this.stopped) return;
    this.nextAt = this.clock.now() + delayMs;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.nextAt = undefined;
      this.background(reason);
    }, delayMs);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = undefined;
  }

  private callback(name: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error(`${name} callback threw; ignoring`, { message: errorMessage(e) });
    }
  }

  private stoppedError(): SidecarError {
    return new SidecarError('NO_CREDENTIALS', 'the credential refresher was stopped while a refresh was in flight; its result is ignored');
  }
}

function isNonEmpty(c: Credentials | undefined): boolean {
  const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
  return typeof c === 'object' && c !== null && nonEmpty(c.accessKeyId) && nonEmpty(c.secretAccessKey) && nonEmpty(c.sessionToken);
}

/** One bounded line; SidecarError messages never carry secrets, and neither do transport errors. */
function errorMessage(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e), 300);
}
