import crypto, { createHash } from 'node:crypto';

/**
 * SHA-256 of a string, base64, for comparing and storing bearer tokens on the hot path. The
 * one-shot crypto.hash (Node >= 20.12) with a string output costs about a quarter of
 * createHash().update().digest() (no Hash object per call; its 'buffer' output is the slow
 * path, hence base64); older Node 20 releases fall back to createHash.
 */
export const sha256Base64: (s: string) => string =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'base64') : (s) => createHash('sha256').update(s, 'utf8').digest('base64');
