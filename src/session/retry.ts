/**
 * The retry rule for CreateSession (pure: randomness and time are arguments).
 *
 * CreateSession is a POST but creates nothing that a second call would duplicate (each call
 * mints independent temporary credentials), so it is safe to retry; generic HTTP retry
 * helpers skip POST by default, which is why this module exists.
 */

export interface RetryPolicy {
  /** Total attempts, the first one included (1 = no retries). */
  readonly maxAttempts: number;
  /** Backoff ceiling for the first retry; doubled per failure. */
  readonly baseDelayMs: number;
  /** No single wait is longer than this, Retry-After included. */
  readonly maxDelayMs: number;
  /**
   * Whether a throttled attempt (429) is retried here (default true). False under a
   * CredentialRefresher: the refresher backs off from throttling itself (minutes, honouring
   * Retry-After), and quick retries stacked under it only multiply a throttled fleet's calls.
   */
  readonly retryThrottled?: boolean;
}

/*
 * 4 attempts with 200 ms doubling spans roughly 0-1.4 s of backoff in the normal case, which
 * keeps a credential_process call (which an SDK waits for) short, while the refresher above
 * this client retries again on its own schedule. The 20 s cap bounds a long Retry-After.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 20_000 });

/*
 * Under a CredentialRefresher (serve, update, exec) the refresher owns the backoff from
 * throttling: a 429 ends the refresh at its first attempt. Quick retries stacked under the
 * refresher's backoff only multiply the calls a fleet makes while the account is throttled
 * (4x after a fleet restart, measured in docs/fleet-simulation.md), for no faster recovery.
 * A network blip or a 5xx is still retried within the run, as before: those are not caused
 * by the fleet's own rate, and a quick retry saves expiring credentials.
 */
export const REFRESHER_RETRY_POLICY: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, retryThrottled: false });

/** Longest Retry-After taken seriously (a day); anything longer is treated as that. */
const MAX_RETRY_AFTER_MS = 86_400_000;
/** A Retry-After value is a number or an HTTP-date (29 chars); anything longer is garbage. */
const MAX_RETRY_AFTER_HEADER = 64;

/**
 * Milliseconds to wait before the next attempt.
 *
 * Capped exponential backoff with FULL jitter: `random01 * min(cap, base * 2^(attempt-1))`,
 * so a fleet that failed together spreads its retries over the whole window instead of
 * retrying in lock step (the service rate-limits per account and region).
 *
 * With a Retry-After the server's wait is a floor, and the jitter is ADDED to it rather
 * than taking the max of the two: with max(), every client told "Retry-After: 1" would come
 * back in the same instant. The result never exceeds `maxDelayMs`: a wait longer than the
 * cap would stall the SDK that is waiting for credentials, and the refresher has its own
 * schedule for long outages.
 *
 * @param attempt 1-based number of failures so far.
 * @param random01 a float in [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random01: number, retryAfterMs?: number): number {
  const cap = Math.max(0, policy.maxDelayMs);
  const n = Math.max(1, Math.floor(Number.isFinite(attempt) ? attempt : 1));
  // 2^(n-1) overflows to Infinity for large n; min() with the cap keeps it finite.
  const ceiling = Math.min(cap, Math.max(0, policy.baseDelayMs) * 2 ** Math.min(n - 1, 1023));
  const r = Number.isFinite(random01) ? Math.min(Math.max(random01, 0), 1) : 0;
  const jittered = r * ceiling;
  const floor = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : 0;
  return Math.round(Math.min(cap, floor + jittered));
}

/**
 * Parses a Retry-After header (RFC 9110 10.2.3): delay-seconds or an HTTP-date.
 * Returns milliseconds from `nowMs` (0 for a date in the past), or undefined when the
 * header is absent or not understood. Bounded to one day.
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const v = header.trim();
  if (v === '' || v.length > MAX_RETRY_AFTER_HEADER) return undefined;
  if (/^\d+$/.test(v)) {
    const seconds = Number(v);
    return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  }
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a weekday; requiring
  // one keeps Date.parse's liberal guessing away from other shapes such as "1.5" or "-1".
  if (!/^[A-Za-z]{3,9},? [A-Za-z0-9 :-]+$/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/** 429 and 5xx are transient; every other status is an answer that a retry would repeat. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}
