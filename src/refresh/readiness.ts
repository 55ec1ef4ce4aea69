/**
 * /readyz from refresher states (pure): ready when every role is, since a workload that needs
 * several roles needs all of them; otherwise one reason per role that is not, with the last
 * error's code and message (never a secret: see RefresherStatus).
 */
import type { RefresherStatus } from './refresher.js';

export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

/** `name` labels a role in the reason; leave it out where there is only one. */
export function readinessOf(roles: ReadonlyArray<{ readonly name?: string; readonly status: RefresherStatus }>): Readiness {
  const reasons: string[] = [];
  for (const { name, status } of roles) {
    if (status.ready) continue;
    const why =
      status.lastErrorCode !== undefined ? `no fresh credentials (last error ${status.lastErrorCode}: ${status.lastErrorMessage ?? ''})` : 'no credentials yet';
    reasons.push(name === undefined ? why : `${name}: ${why}`);
  }
  return reasons.length === 0 ? { ready: true } : { ready: false, reason: reasons.join('; ') };
}
