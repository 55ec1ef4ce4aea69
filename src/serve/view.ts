import type { Credentials } from '../core/credentials.js';

/**
 * What the endpoints read: a non-blocking view of the refresher's last good credentials.
 * Handlers never call CreateSession themselves (the official helper refreshed inside the
 * request, so SDKs waited on the service and concurrent requests raced).
 */
export interface CredentialView {
  /** Servable credentials (non-empty, not expired) or undefined. Never blocks. */
  current(): Credentials | undefined;
  /** Increments whenever current credentials change; lets handlers cache response bytes. */
  readonly generation: number;
}
