/**
 * The credential_process output (docs/sdk-endpoints.md): one JSON object, Version the
 * integer 1, Expiration in `...Z` form. Every SDK parses this; Java caps it at 64 KB.
 */
import { isoSeconds } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';

export function formatCredentialProcess(c: Credentials): string {
  return JSON.stringify({
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    Expiration: isoSeconds(c.expiration),
  });
}
