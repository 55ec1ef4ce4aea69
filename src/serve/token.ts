import { systemRandom, type Random } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import { writeFileAtomic } from '../io/files.js';

/** Random bytes per generated token: 256 bits, beyond any guessing. */
const TOKEN_BYTES = 32;

/**
 * A fresh bearer token: 32 random bytes as base64url (43 characters of [A-Za-z0-9_-]),
 * safe in an HTTP header, a URL, an env var and a file without quoting.
 */
export function generateToken(random: Random = systemRandom): string {
  const bytes = random.bytes(TOKEN_BYTES);
  if (bytes.length < TOKEN_BYTES) throw new RangeError('random source returned too few bytes for a token');
  return bytes.toString('base64url');
}

/** Bounds of a token given by the operator (ROLESANYWHERE_CONTAINER_TOKEN). */
const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_LENGTH = 1024;

/**
 * Checks a container-endpoint token: it travels as a whole `Authorization` header value,
 * so visible ASCII only (no spaces, which some clients fold, and no newline, which
 * botocore, Go and Rust reject in the token file), long enough not to be guessable.
 */
export function validateContainerToken(token: string, source = 'ROLESANYWHERE_CONTAINER_TOKEN'): void {
  if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new SidecarError(
      'CONFIG_INVALID',
      `${source} must be ${MIN_TOKEN_LENGTH}..${MAX_TOKEN_LENGTH} visible ASCII characters with no spaces or newlines; unset it to have a random token generated`,
    );
  }
}

/**
 * Writes a token file atomically with mode 0600 (see io/files), exactly as given:
 * no trailing newline, since botocore >= 1.32, Go and Rust reject a token file ending in
 * one, and JS v3 then silently sends no token.
 */
export async function writeSecretFile(path: string, content: string, random: Random = systemRandom): Promise<void> {
  if (/[\r\n]/.test(content)) {
    throw new SidecarError('CONFIG_INVALID', `refusing to write a line break into secret file ${path}; SDKs reject token files with newlines`);
  }
  await writeFileAtomic(path, content, { mode: 0o600, random });
}
