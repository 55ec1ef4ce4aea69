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
  /**
   * Why nothing is servable (the last refresh error: code and one-line message), for the
   * 503 answer, so a client's error names the cause (a denied AssumeRole, say). Optional.
   */
  unavailableReason?(): { readonly code: string; readonly message: string } | undefined;
}

/** The 503 message: the fixed text, plus the last error when the view knows it. */
export function unavailableMessage(view: CredentialView, fallback: string): { code: string; message: string } {
  const why = view.unavailableReason?.();
  return why === undefined
    ? { code: 'CredentialsUnavailable', message: fallback }
    : { code: 'CredentialsUnavailable', message: `${fallback} (last error ${why.code}: ${why.message})` };
}
