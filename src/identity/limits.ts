/**
 * Size caps on identity inputs. Every input is bounded so a wrong path (a log file, a
 * device, a CA bundle) or a hostile variable fails fast instead of filling memory.
 */

/**
 * A certificate is 1-2 KiB of PEM, an ML-DSA-87 key about 7 KiB, a PKCS#12 with a chain a
 * few KiB. 1 MiB is hundreds of times that and still nothing to hold in memory.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** A leaf and its chain are a handful of blocks; a file with more is a CA bundle given by mistake. */
export const MAX_PEM_BLOCKS = 64;

/** A password file holds one line. */
export const MAX_PASSWORD_BYTES = 4096;

/**
 * Largest password-based key-derivation cost any input may ask for: PBKDF2 iterations of
 * an encrypted PKCS#8 key or a PKCS#12 bundle, the PKCS#12 KDF and MAC iterations, and
 * scrypt's N. Exporters write 2,048 (OpenSSL 3) to 10,000 (Java) iterations, and scrypt
 * keys use N = 2^14 to 2^17; 2^20 leaves room for hardened files while bounding the CPU a
 * hostile or mistaken file can take (decoding runs off the event loop, see key-derivation.ts,
 * but the work still happens).
 */
export const MAX_KEY_DERIVATION_COST = 2 ** 20;
