/**
 * Writes that must eventually land: the credentials file `update` keeps current, the
 * credential_process cache. A full disk, a file system remounted read-only, a permission
 * changed under us or a failing device must not lose the next credentials until the next
 * refresh, nor spam the log: the newest content is written again with capped, jittered
 * backoff until it lands, the old file stays intact meanwhile (writes are atomic renames),
 * each cause is logged once with its fix, and every failure is counted.
 */
import type { Random } from '../core/clock.js';
import { isSidecarError, oneLine } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TimerHandle, Timers } from '../core/timers.js';

/** Why a write failed, from its errno, and what fixes it (pure). */
export function writeFailureAdvice(errno: string | undefined, path: string, dir: string): string {
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `the file system holding ${dir} is full (${errno}): free space or raise the quota`;
    case 'EROFS':
      return `${dir} is on a read-only file system (EROFS): mount it read-write, or write to a writable path`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied writing in ${dir} (${errno}): give this user write access to the directory, or write elsewhere`;
    case 'EIO':
      return `the device holding ${path} reports an I/O error (EIO): check the disk and the kernel log`;
    case 'ENOENT':
    case 'ENOTDIR':
      return `${dir} does not exist or is not a directory (${errno}): create it, or write elsewhere`;
    default:
      return `the write failed (${errno ?? 'unknown error'}): check ${dir}`;
  }
}

/** errno of a failed write, through a SidecarError's details or the error itself. */
export function errnoOf(e: unknown): string | undefined {
  if (isSidecarError(e)) {
    const v = e.details.errno;
    if (typeof v === 'string') return v;
    return errnoOf(e.cause);
  }
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length <= 32 ? code : undefined;
}

/** Delay before retry `n` (>= 1): full jitter over min(cap, base * 2^(n-1)), at least `minMs` (pure). */
export function writeRetryDelayMs(n: number, random01: number, baseMs: number, capMs: number, minMs = 100): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, Math.floor(n) - 1), 40));
  const r = Number.isFinite(random01) ? Math.min(Math.max(random01, 0), 1) : 0;
  return Math.round(Math.max(Math.min(minMs, ceiling), ceiling * r));
}

export interface RetryingWriterOptions {
  /** What is written, for log lines: e.g. "the credentials file". */
  readonly what: string;
  readonly path: string;
  readonly dir: string;
  readonly timers: Timers;
  readonly random: Random;
  readonly logger: Logger;
  /** First retry's ceiling (default 1 s); doubles per failure up to `capMs` (default 60 s). */
  readonly baseMs?: number;
  readonly capMs?: number;
  /** Retries after the first failure before giving up on that content; default unlimited (a newer write starts over). */
  readonly maxRetries?: number;
  /** Each failed attempt, with its errno (metrics). */
  readonly onFailure?: (errno: string) => void;
}

/**
 * Serialises writes (two read-modify-writes racing could leave the older content last) and
 * retries a failed one with backoff. `submit` replaces whatever is pending: only the newest
 * content is worth writing. `idle()` resolves when nothing is in flight or scheduled.
 */
export class RetryingWriter {
  private pending: (() => Promise<void>) | undefined;
  private running = false;
  private failures = 0;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly reported = new Set<string>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: RetryingWriterOptions) {}

  /** Writes `write` as soon as the previous write settles; a newer submit supersedes it. */
  submit(write: () => Promise<void>): void {
    if (this.stopped) return;
    this.pending = write;
    if (this.timer !== undefined) {
      // New content: worth trying now rather than at the end of the old one's backoff.
      this.opts.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.running) void this.drain();
  }

  /** Failed attempts in a row (0 once a write lands). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Resolves when no write is running or waiting for a retry. */
  idle(): Promise<void> {
    if (!this.running && this.timer === undefined && this.pending === undefined) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels a scheduled retry; a running write finishes. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.opts.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
    this.notifyIdle();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.pending !== undefined && !this.stopped) {
      const write = this.pending;
      this.pending = undefined;
      try {
        await write();
        if (this.failures > 0) {
          this.opts.logger.info(`${this.opts.what} written again after failures`, { path: this.opts.path, failedAttempts: this.failures });
        }
        this.failures = 0;
        this.reported.clear();
      } catch (e) {
        this.failed(e, write);
        break;
      }
    }
    this.running = false;
    this.notifyIdle();
  }

  private failed(e: unknown, write: () => Promise<void>): void {
    this.failures++;
    const errno = errnoOf(e) ?? 'UNKNOWN';
    try {
      this.opts.onFailure?.(errno);
    } catch {
      // A metrics hook must not stop the retries.
    }
    const giveUp = this.opts.maxRetries !== undefined && this.failures > this.opts.maxRetries;
    const delay = writeRetryDelayMs(this.failures, this.opts.random.float(), this.opts.baseMs ?? 1_000, this.opts.capMs ?? 60_000);
    const fields = {
      path: this.opts.path,
      errno,
      consecutiveFailures: this.failures,
      ...(giveUp ? {} : { retryInMs: delay }),
      error: oneLine(e instanceof Error ? e.message : String(e), 300),
    };
    if (!this.reported.has(errno)) {
      // Once per cause: a full disk retried every minute for a day is one line, not 1,440.
      this.reported.add(errno);
      const keep = 'the previous file is left as it was';
      this.opts.logger.error(
        `cannot write ${this.opts.what}: ${writeFailureAdvice(errno, this.opts.path, this.opts.dir)}; ${keep}, ${giveUp ? 'not retried' : 'retrying with backoff'}`,
        fields,
      );
    } else {
      this.opts.logger.debug(`${this.opts.what} still cannot be written`, fields);
    }
    if (giveUp || this.stopped) return;
    // The same content is tried again, unless newer content arrived meanwhile (kept in `pending`).
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.pending === undefined) this.pending = write;
      if (!this.running) void this.drain();
    }, delay);
  }

  private notifyIdle(): void {
    if (this.running || this.timer !== undefined || this.pending !== undefined) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }
}
