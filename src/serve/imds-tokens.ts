import { sha256Base64 } from './digest.js';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import { generateToken } from './token.js';

/** TTL bounds of an IMDSv2 session token, seconds (EC2's own: 1 second to 6 hours). */
export const IMDS_TOKEN_TTL_MIN = 1;
export const IMDS_TOKEN_TTL_MAX = 21600;

/** Longest token accepted on lookup; ours are 43 characters, EC2's about 56. */
const MAX_TOKEN_LENGTH = 256;

export interface ImdsTokenStoreOptions {
  clock?: Clock;
  random?: Random;
  /**
   * Most live tokens held. SDKs keep one token per process for 6 hours, so a host rarely
   * holds more than a few hundred; the cap keeps a client minting tokens in a loop from
   * growing memory without bound.
   */
  maxTokens?: number;
}

/**
 * IMDSv2 session tokens. Only a SHA-256 of each token is kept, as the Map key: a lookup
 * compares hashes, never the token's own bytes, so response timing reveals nothing about
 * a valid token, and a heap dump holds no usable token.
 */
export class ImdsTokenStore {
  private readonly clock: Clock;
  private readonly random: Random;
  readonly maxTokens: number;
  /** hash -> expiry (ms). Insertion order is issue order, so the first entry is the oldest. */
  private readonly byHash = new Map<string, number>();
  /** Earliest expiry among held tokens, or Infinity; lets `issue` skip sweeps that would find nothing. */
  private earliestExpiry = Number.POSITIVE_INFINITY;

  constructor(options: ImdsTokenStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.maxTokens = options.maxTokens ?? 10_000;
    if (!Number.isInteger(this.maxTokens) || this.maxTokens < 1) {
      throw new RangeError(`maxTokens must be a positive integer, got ${this.maxTokens}`);
    }
  }

  /** Tokens held (live ones, plus expired ones not yet swept). */
  get size(): number {
    return this.byHash.size;
  }

  /** Mints a token valid for `ttlSeconds` (already validated to 1..21600 by the caller). */
  issue(ttlSeconds: number): string {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < IMDS_TOKEN_TTL_MIN || ttlSeconds > IMDS_TOKEN_TTL_MAX) {
      throw new RangeError(`IMDS token TTL must be an integer in ${IMDS_TOKEN_TTL_MIN}..${IMDS_TOKEN_TTL_MAX}, got ${ttlSeconds}`);
    }
    const now = this.clock.now();
    this.sweep(now);
    // Still full: drop the oldest live token. Its client gets a 401 and, like every SDK
    // does on 401, fetches a new token.
    while (this.byHash.size >= this.maxTokens) {
      const oldest = this.byHash.keys().next();
      if (oldest.done === true) break;
      this.byHash.delete(oldest.value);
    }
    const token = generateToken(this.random);
    const expiry = now + ttlSeconds * 1000;
    this.byHash.set(hashToken(token), expiry);
    if (expiry < this.earliestExpiry) this.earliestExpiry = expiry;
    return token;
  }

  /** True when `token` was issued here and its TTL has not run out. */
  isValid(token: string): boolean {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return false;
    const h = hashToken(token);
    const expiry = this.byHash.get(h);
    if (expiry === undefined) return false;
    if (expiry <= this.clock.now()) {
      this.byHash.delete(h);
      return false;
    }
    return true;
  }

  /** Forgets every token (e.g. on shutdown). */
  clear(): void {
    this.byHash.clear();
    this.earliestExpiry = Number.POSITIVE_INFINITY;
  }

  private sweep(now: number): void {
    // Cheap path first: the oldest tokens usually expire first (SDKs all ask for 21600 s).
    for (const [h, expiry] of this.byHash) {
      if (expiry > now) break;
      this.byHash.delete(h);
    }
    // A full pass only when the store is full and some token is known to have expired,
    // so a flood of PUTs while nothing has expired costs O(1) per token, not O(n).
    if (this.byHash.size < this.maxTokens || this.earliestExpiry > now) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [h, expiry] of this.byHash) {
      if (expiry <= now) this.byHash.delete(h);
      else if (expiry < earliest) earliest = expiry;
    }
    this.earliestExpiry = earliest;
  }
}

function hashToken(token: string): string {
  return sha256Base64(token);
}
