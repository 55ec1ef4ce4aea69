/**
 * The provider's memory: one set of credentials reused until it is close to expiry, one
 * fetch shared by every caller that arrives while it runs, and the last good credentials
 * kept (while still valid) when a refresh fails. Pure apart from the injected clock.
 */
import type { Clock } from '../core/clock.js';
import { isUsable, type Credentials } from '../core/credentials.js';
import { nullLogger, type Logger } from '../core/logger.js';

/**
 * The JS SDK v3 treats credentials as expired 5 minutes before `expiration` and asks its
 * provider again (smithy-typescript core, `memoizeIdentityProvider` / EXPIRATION_MS), so a
 * provider must hand out fresh ones before that or every request would call it again.
 */
export const SDK_EXPIRY_WINDOW_MS = 5 * 60_000;
export const DEFAULT_REFRESH_BEFORE_MS = 10 * 60_000;

export interface MemoizeOptions {
  readonly fetch: () => Promise<Credentials>;
  readonly clock: Clock;
  /** Refresh when less than this is left (default 10 minutes; more than the SDK's 5). */
  readonly refreshBeforeMs?: number;
  readonly logger?: Logger;
}

export type MemoizedCredentials = (options?: { readonly forceRefresh?: boolean }) => Promise<Credentials>;

export function memoizeCredentials(o: MemoizeOptions): MemoizedCredentials {
  const refreshBeforeMs = o.refreshBeforeMs ?? DEFAULT_REFRESH_BEFORE_MS;
  const logger = o.logger ?? nullLogger;
  let current: Credentials | undefined;
  let inflight: Promise<Credentials> | undefined;
  return (options) => {
    if (options?.forceRefresh !== true && current !== undefined && current.expiration - o.clock.now() > refreshBeforeMs) {
      return Promise.resolve(current);
    }
    if (inflight !== undefined) return inflight;
    const run = (async () => {
      try {
        const fresh = await o.fetch();
        current = fresh;
        return fresh;
      } catch (e) {
        const last = current;
        if (last !== undefined && isUsable(last, o.clock.now())) {
          logger.warn('refreshing credentials failed; the previous ones are still valid and are returned', {
            expiration: new Date(last.expiration).toISOString(),
            error: e,
          });
          return last;
        }
        throw e;
      } finally {
        inflight = undefined;
      }
    })();
    inflight = run;
    return run;
  };
}
