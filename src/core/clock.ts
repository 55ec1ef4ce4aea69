import { randomBytes } from 'node:crypto';

/** Time source. Injected everywhere time matters so tests move time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Randomness source. Injected so jitter and token generation are testable. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** n cryptographically strong random bytes. */
  bytes(n: number): Buffer;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemRandom: Random = {
  // 48 CSPRNG bits: plenty of resolution for jitter, and exactly representable in a double.
  float: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
  bytes: (n: number) => randomBytes(n),
};

/** A clock whose time only moves when told to. For tests and simulations. */
export class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(ms: number): void {
    this.t = ms;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** `2026-11-22T15:04:05Z`: UTC, whole seconds, `Z` (the one form every SDK parses). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** `20261122T150405Z`, the SigV4 X-Amz-Date form. */
export function amzDate(ms: number): string {
  return isoSeconds(ms).replace(/[-:]/g, '');
}
