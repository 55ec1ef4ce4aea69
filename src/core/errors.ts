/**
 * The error catalogue. Every failure the sidecar can report has a stable code
 * (used in logs, metrics labels and exit statuses), a retryable flag (the one
 * retry layer, in the session client and refresher, reads it) and a one-line
 * message that names the cause and the fix. Nothing here does I/O.
 */

export const ErrorCodes = {
  // configuration and command line
  CONFIG_INVALID: { exit: 2, retryable: false },
  NOT_SUPPORTED: { exit: 2, retryable: false },
  // inputs: files, PEM, certificates, keys
  FILE_UNREADABLE: { exit: 3, retryable: false },
  FILE_UNWRITABLE: { exit: 3, retryable: false },
  INPUT_TOO_LARGE: { exit: 3, retryable: false },
  PEM_INVALID: { exit: 3, retryable: false },
  CERT_INVALID: { exit: 3, retryable: false },
  CERT_EXPIRED: { exit: 3, retryable: false },
  CERT_NOT_YET_VALID: { exit: 3, retryable: false },
  CHAIN_INVALID: { exit: 3, retryable: false },
  KEY_INVALID: { exit: 3, retryable: false },
  KEY_UNSUPPORTED: { exit: 3, retryable: false },
  KEY_PASSWORD_REQUIRED: { exit: 3, retryable: false },
  KEY_PASSWORD_WRONG: { exit: 3, retryable: false },
  KEY_CERT_MISMATCH: { exit: 3, retryable: false },
  PKCS12_INVALID: { exit: 3, retryable: false },
  ARN_INVALID: { exit: 2, retryable: false },
  REGION_MISMATCH: { exit: 2, retryable: false },
  SIGNING_FAILED: { exit: 3, retryable: false },
  // hardware-bound keys: PKCS#11 tokens and TPMs (a token that is gone may come back)
  PKCS11_UNAVAILABLE: { exit: 3, retryable: false },
  PKCS11_TOKEN_NOT_FOUND: { exit: 3, retryable: true },
  PKCS11_PIN_REQUIRED: { exit: 3, retryable: false },
  PKCS11_PIN_INCORRECT: { exit: 3, retryable: false },
  PKCS11_PIN_LOCKED: { exit: 3, retryable: false },
  PKCS11_OBJECT_NOT_FOUND: { exit: 3, retryable: false },
  PKCS11_OBJECT_AMBIGUOUS: { exit: 3, retryable: false },
  PKCS11_FAILED: { exit: 3, retryable: true },
  TPM_UNAVAILABLE: { exit: 3, retryable: true },
  TPM_KEY_INVALID: { exit: 3, retryable: false },
  TPM_AUTH_FAILED: { exit: 3, retryable: false },
  // talking to Roles Anywhere
  ENDPOINT_UNREACHABLE: { exit: 4, retryable: true },
  TIMEOUT: { exit: 4, retryable: true },
  TLS_FAILURE: { exit: 4, retryable: false },
  SERVICE_ACCESS_DENIED: { exit: 5, retryable: false },
  SERVICE_VALIDATION: { exit: 5, retryable: false },
  SERVICE_NOT_FOUND: { exit: 5, retryable: false },
  SERVICE_THROTTLED: { exit: 5, retryable: true },
  SERVICE_UNAVAILABLE: { exit: 5, retryable: true },
  SERVICE_ERROR: { exit: 5, retryable: false },
  RESPONSE_MALFORMED: { exit: 5, retryable: true },
  // role chaining (STS AssumeRole after CreateSession)
  ASSUME_ROLE_DENIED: { exit: 5, retryable: false },
  ASSUME_ROLE_INVALID: { exit: 5, retryable: false },
  ASSUME_ROLE_REGION_DISABLED: { exit: 5, retryable: false },
  ASSUME_ROLE_UNAVAILABLE: { exit: 5, retryable: true },
  ASSUME_ROLE_FAILED: { exit: 5, retryable: false },
  // serving
  NO_CREDENTIALS: { exit: 6, retryable: true },
  ADDRESS_IN_USE: { exit: 7, retryable: false },
  ADDRESS_NOT_ALLOWED: { exit: 2, retryable: false },
  // exec: the same statuses a shell gives for a command it cannot run
  COMMAND_NOT_FOUND: { exit: 127, retryable: false },
  COMMAND_NOT_EXECUTABLE: { exit: 126, retryable: false },
  INTERNAL: { exit: 1, retryable: false },
} as const satisfies Record<string, { exit: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface SidecarErrorOptions {
  cause?: unknown;
  /** Overrides the catalogue's retryable flag (e.g. a 5xx that is not worth retrying). */
  retryable?: boolean;
  /** Extra machine-readable context safe to log (never secrets). */
  details?: Record<string, string | number | boolean | undefined>;
}

/** The one error type the sidecar raises on purpose. `message` is one line, cause + fix. */
export class SidecarError extends Error {
  override readonly name = 'SidecarError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, string | number | boolean | undefined>>;

  constructor(code: ErrorCode, message: string, options: SidecarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? ErrorCodes[code].retryable;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** Process exit status for this error's category. */
  get exitCode(): number {
    return ErrorCodes[this.code].exit;
  }
}

export function isSidecarError(e: unknown): e is SidecarError {
  return e instanceof SidecarError;
}

/** Wraps anything thrown into a SidecarError, keeping SidecarErrors as they are. */
export function toSidecarError(e: unknown, fallback: ErrorCode = 'INTERNAL'): SidecarError {
  if (e instanceof SidecarError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new SidecarError(fallback, oneLine(msg), { cause: e });
}

/** Collapses a message to one line, bounded, so an error never floods a log or terminal. */
export function oneLine(s: string, max = 500): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}
