/**
 * The refresh-time rule: when to replace credentials, when to retry after a failure, and
 * which credentials may be served. Pure functions of their arguments (time and randomness
 * are passed in), so every rule here is tested over many random draws.
 *
 * Where the numbers come from (docs/sdk-endpoints.md, "Credential lifetime"):
 * - botocore and .NET refresh 15 min before expiry (mandatory at 10 min); JS v3 and Go at
 *   5 min; JS v2 at 15 s; Java v2 prefetches at max(half the remaining, 5 min).
 * - botocore's IMDS "static stability" keeps using credentials with less than about
 *   15 + (2..10) min left for another 17..25 min, even past their real expiry.
 * So every served credential should have at least ~30 min left (DEFAULT_MIN_REMAINING_MS):
 * then no SDK is ever inside its own refresh window when it receives credentials, and
 * botocore's static stability never stretches credentials past their expiry.
 */
import type { Credentials } from '../core/credentials.js';
import { isUsable } from '../core/credentials.js';

/** Life every served credential should have left, where the session duration allows. */
export const DEFAULT_MIN_REMAINING_MS = 30 * 60_000;

/**
 * Credentials this close to expiry are no longer served: by the time an SDK signs a
 * request with them and the request reaches AWS (plus the usual NTP-level clock skew
 * between this host and AWS), they would be expired.
 */
export const SERVE_SKEW_MS = 5_000;

/**
 * Long sessions refresh between these fractions of the "goal window" (the time during
 * which the credential still has at least minRemaining left). Starting at half spreads a
 * fleet started together over a quarter of the window; stopping at three quarters leaves
 * at least a quarter of it (7.5 min for a 1 h session with 30 min min-remaining, i.e. 7+
 * retries at the 60 s retry cap) for retries before served life drops below minRemaining.
 */
export const GOAL_WINDOW_FROM = 0.5;
export const GOAL_WINDOW_TO = 0.75;

/**
 * Short sessions (the goal is unreachable, e.g. the emulator's 60 s or the service's minimum
 * 900 s) refresh at 30-40 % of their life, jittered. Not at half: a credential at its
 * refresh time then still has 60 % or more of its life left, above the half that `isFresh`
 * asks for, so readiness holds through a normal refresh with at least 10 % of the life as
 * room for retries (6 s of a 60 s credential, 90 s of a 900 s one).
 */
export const SHORT_LIFE_FROM = 0.3;
export const SHORT_LIFE_TO = 0.4;

/**
 * Never refresh sooner than this after issue, whatever the lifetime: a floor against a
 * tight loop of CreateSession calls (the service rate-limits per account).
 */
export const MIN_REFRESH_DELAY_MS = 1_000;
export const MIN_REFRESH_FRACTION = 0.1;

export interface RefreshTimeInput {
  /** When the credentials were received (local clock), ms since the epoch. */
  issuedAt: number;
  /** Their expiration, ms since the epoch. */
  expiration: number;
  /** Defaults to DEFAULT_MIN_REMAINING_MS. */
  minRemainingMs?: number;
  /** A draw in [0, 1) for jitter. */
  random01: number;
}

/** The floor on the refresh delay for a credential of this lifetime. */
export function refreshFloorMs(lifetimeMs: number): number {
  return Math.max(MIN_REFRESH_DELAY_MS, MIN_REFRESH_FRACTION * lifetimeMs);
}

/**
 * True when credentials of this lifetime can be replaced while they still have
 * `minRemainingMs` left without refreshing faster than the floor allows.
 */
export function goalAchievable(lifetimeMs: number, minRemainingMs: number = DEFAULT_MIN_REMAINING_MS): boolean {
  return lifetimeMs - effectiveMinRemaining(minRemainingMs) >= refreshFloorMs(lifetimeMs);
}

/** Even with --min-remaining 0, credentials are replaced while they are still servable. */
function effectiveMinRemaining(minRemainingMs: number): number {
  return Math.max(2 * SERVE_SKEW_MS, minRemainingMs);
}

/** Milliseconds after `issuedAt` at which to replace the credentials. */
export function refreshDelayMs(input: RefreshTimeInput): number {
  const minRemaining = effectiveMinRemaining(input.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS);
  const lifetime = input.expiration - input.issuedAt;
  const r = clamp01(input.random01);
  const floor = refreshFloorMs(Math.max(0, lifetime));
  if (lifetime <= 0) return floor;
  if (goalAchievable(lifetime, minRemaining)) {
    const window = lifetime - minRemaining;
    const lo = Math.max(floor, GOAL_WINDOW_FROM * window);
    const hi = Math.max(lo, GOAL_WINDOW_TO * window);
    return Math.round(lo + (hi - lo) * r);
  }
  const lo = Math.max(floor, SHORT_LIFE_FROM * lifetime);
  const hi = Math.max(lo, SHORT_LIFE_TO * lifetime);
  return Math.round(lo + (hi - lo) * r);
}

/** Absolute time (ms since the epoch) at which to replace the credentials. */
export function refreshAt(input: RefreshTimeInput): number {
  return input.issuedAt + refreshDelayMs(input);
}

/** True when `c` may be handed to a client at `now`: non-empty and not (nearly) expired. */
export function servable(c: Credentials | undefined, now: number, skewMs: number = SERVE_SKEW_MS): c is Credentials {
  return isUsable(c, now + skewMs);
}

/**
 * Readiness: servable, with at least min(minRemaining, half its lifetime) left. Without
 * `issuedAt` the lifetime is unknown and the full minRemaining is required.
 */
export function isFresh(c: Credentials | undefined, now: number, minRemainingMs: number = DEFAULT_MIN_REMAINING_MS, issuedAt?: number): c is Credentials {
  if (!servable(c, now)) return false;
  const needed = issuedAt === undefined ? minRemainingMs : Math.min(minRemainingMs, (c.expiration - issuedAt) / 2);
  return c.expiration - now >= needed;
}

/**
 * Backoff cap after a throttled refresh (429). A refresher that the account's rate limit
 * refused gains nothing by asking every half minute: the limit decides when it gets in, and
 * every refused call is one that other callers in the account lose to. Five minutes cuts a
 * fleet restart's throttled calls fourfold with the same convergence (docs/fleet-simulation.md).
 */
export const THROTTLED_RETRY_CAP_MS = 300_000;

export interface RetryOptions {
  /** First retry's upper bound (doubles per failure). Default 1 s. */
  baseMs?: number;
  /**
   * Upper bound of any retry delay. Default 60 s (about one CreateSession a minute per
   * sidecar during an outage), or `throttledCapMs` after a throttled attempt.
   */
  capMs?: number;
  /** The last failure was the service's rate limit (SERVICE_THROTTLED). */
  throttled?: boolean;
  /** Cap after a throttled failure. Default THROTTLED_RETRY_CAP_MS. */
  throttledCapMs?: number;
  /** The server's Retry-After: a floor for the delay (never above the cap). */
  retryAfterMs?: number;
  /** Lower bound, so full jitter never produces a tight loop. Default 500 ms. */
  minMs?: number;
  /** Now, with `expiresAt`: the current credentials' expiry, to retry before they lapse. */
  now?: number;
  expiresAt?: number;
}

/**
 * Delay before the next attempt after `consecutiveFailures` (>= 1) failures: capped
 * exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"), so a fleet that failed together does not retry together. If the credentials
 * still held expire sooner, the delay is cut to half the time they have left (never below
 * `minMs`), so several attempts happen before they lapse.
 */
export function failureRetryDelayMs(consecutiveFailures: number, random01: number, options: RetryOptions = {}): number {
  const base = options.baseMs ?? 1_000;
  let cap = options.capMs ?? (options.throttled === true ? (options.throttledCapMs ?? THROTTLED_RETRY_CAP_MS) : 60_000);
  if (options.capMs === undefined && options.throttled === true && options.now !== undefined && options.expiresAt !== undefined) {
    // A throttled holder competes with the whole fleet for the tokens left before its
    // credentials lapse: it asks more often as that time runs out (an eighth of it), but
    // never more often than the 60 s of other failures.
    const left = options.expiresAt - SERVE_SKEW_MS - options.now;
    if (left > 0) cap = Math.min(cap, Math.max(60_000, left / 8));
  }
  const min = Math.min(options.minMs ?? 500, cap);
  const n = Math.max(1, Math.floor(consecutiveFailures));
  // 2 ** 60 already dwarfs any cap; bounding the exponent keeps the arithmetic finite.
  const ceiling = Math.min(cap, base * 2 ** Math.min(n - 1, 60));
  let delay = Math.max(min, ceiling * clamp01(random01));
  if (options.now !== undefined && options.expiresAt !== undefined) {
    const untilUnservable = options.expiresAt - SERVE_SKEW_MS - options.now;
    if (untilUnservable > 0) delay = Math.min(delay, Math.max(min, untilUnservable / 2));
  }
  // Asking again before the server said to only collects another refusal.
  const retryAfter = options.retryAfterMs;
  if (retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter > delay) delay = Math.min(retryAfter, cap);
  return Math.round(delay);
}

/**
 * A one-line warning when a session of `durationSeconds` cannot meet the min-remaining
 * goal, naming the consequence and the fix; undefined when it can.
 */
export function lifetimeWarning(durationSeconds: number, minRemainingMs: number = DEFAULT_MIN_REMAINING_MS): string | undefined {
  const lifetime = durationSeconds * 1000;
  if (goalAchievable(lifetime, minRemainingMs)) return undefined;
  const minRemainingSeconds = Math.round(minRemainingMs / 1000);
  const needed = Math.ceil(minRemainingSeconds / (1 - MIN_REFRESH_FRACTION));
  return (
    `session duration ${durationSeconds} s is too short to serve credentials with ${minRemainingSeconds} s left ` +
    `(needs at least ${needed} s): credentials are refreshed at about a third of their life and SDKs may refresh ` +
    `often; raise --session-duration (and the role's maximum session duration) or lower --min-remaining`
  );
}

function clamp01(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 1 - Number.EPSILON : x;
}
