/**
 * Notices when the certificate or key files are rotated (cert-manager, Vault Agent and
 * SPIRE rewrite them in place; Kubernetes Secret/ConfigMap volumes swap a `..data`
 * symlink) and hands the new identity over, without ever dropping the working one.
 *
 * Change detection hashes the files' CONTENTS through symlinks: mtime misses two writes
 * within one second and a symlink swap can keep every timestamp. A rotation is rarely seen
 * atomically (a half-written file, a new certificate next to the old key), so a failed
 * load keeps the old identity, is logged, and is retried on every poll: the failed content
 * is deliberately not remembered as seen, so the complete files are picked up even if the
 * loader read a different (earlier) state than the one hashed here.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { isoSeconds, systemClock } from '../core/clock.js';
import { oneLine, SidecarError, toSidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Logger } from '../core/logger.js';
import { nullLogger } from '../core/logger.js';
import type { TimerHandle, Timers } from '../core/timers.js';
import { systemTimers } from '../core/timers.js';
import { readFileBounded } from '../io/files.js';

/** Default poll period: a rotation is picked up within 10 s, at the cost of a few small reads. */
export const DEFAULT_IDENTITY_POLL_MS = 10_000;

/**
 * Largest file hashed. Certificate chains and keys are a few KB; PKCS#12 bundles with long
 * chains stay far below 1 MiB. Anything bigger is not an identity file, and reading it
 * every poll would be a cost a misconfiguration should not impose.
 */
export const MAX_IDENTITY_FILE_BYTES = 1024 * 1024;

export type CheckResult =
  /** Contents unchanged since the last successful load. */
  | 'unchanged'
  /** Contents changed and loaded, and the identity differs: onReload was called. */
  | 'reloaded'
  /** Contents changed and loaded to the identity already in use (e.g. re-encoded PEM). */
  | 'same-identity'
  /** Reading or loading failed; the old identity is kept and the next poll retries. */
  | 'failed'
  /** The first check after start without an initial hash: records the baseline only. */
  | 'baseline'
  | 'stopped';

export interface IdentityWatcherOptions {
  /** The files the identity is loaded from (certificate, key, intermediates...). */
  paths: readonly string[];
  /**
   * Identity content that is not in a file: the certificate on a PKCS#11 token, read
   * through the token. Hashed with the files; a failure to read it is a failed check.
   */
  extra?: () => Promise<Buffer>;
  /** Loads and validates the identity (throws unless certificate and key parse and match). */
  load: () => Promise<Identity>;
  /** Called with each new identity (different leaf or chain). */
  onReload(identity: Identity): void;
  /** Called for each failed read or load; the old identity stays in use. */
  onReloadFailed?(err: unknown): void;
  clock?: Clock;
  timers?: Timers;
  logger?: Logger;
  /** Default 10 s (DEFAULT_IDENTITY_POLL_MS); values below 100 ms are raised to 100 ms. */
  pollIntervalMs?: number;
  /** Per-file read bound (default MAX_IDENTITY_FILE_BYTES). */
  maxFileBytes?: number;
}

export interface WatchStart {
  /**
   * Content hash (from `hashIdentityFiles`) taken BEFORE the identity in use was loaded.
   * Hashing first means a rotation racing the initial load shows up as a change on the
   * first poll. Without it, the first check loads and compares with `identity` when that is
   * given, and otherwise only records a baseline.
   */
  hash?: string;
  /** The identity in use, so a reload to the same certificate is not reported as new. */
  identity?: Identity;
}

/**
 * SHA-256 over the files' contents (following symlinks), framed with each path and length
 * so moving bytes between files changes the hash. Each file is bounded by `maxFileBytes`.
 */
export async function hashIdentityFiles(paths: readonly string[], maxFileBytes: number = MAX_IDENTITY_FILE_BYTES): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) {
    const data = await readBounded(p, maxFileBytes);
    const name = Buffer.from(p, 'utf8');
    h.update(u32(name.length)).update(name).update(u32(data.length)).update(data);
  }
  return h.digest('hex');
}

/** hashIdentityFiles, plus content read from elsewhere (a token's certificate) when given. */
export async function hashIdentityInputs(
  paths: readonly string[],
  extra: (() => Promise<Buffer>) | undefined,
  maxFileBytes: number = MAX_IDENTITY_FILE_BYTES,
): Promise<string> {
  const files = await hashIdentityFiles(paths, maxFileBytes);
  if (extra === undefined) return files;
  const data = await extra();
  return createHash('sha256').update(files).update(u32(data.length)).update(data).digest('hex');
}

/** Identity equality for reload purposes: the leaf and every intermediate. */
export function identityKey(identity: Identity): string {
  return [identity.fingerprint, ...identity.chain.map((c) => c.fingerprint256)].join('/');
}

export class IdentityWatcher {
  private readonly paths: readonly string[];
  private readonly extra: (() => Promise<Buffer>) | undefined;
  private readonly load: () => Promise<Identity>;
  private readonly onReload: (identity: Identity) => void;
  private readonly onReloadFailed: ((err: unknown) => void) | undefined;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly maxBytes: number;

  private seenHash: string | undefined;
  private currentKey: string | undefined;
  private lastFailure: { hash: string | undefined; code: string } | undefined;
  private timer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  /** Checks run one at a time, in order; `queued` is the next one not yet begun. */
  private tail: Promise<unknown> = Promise.resolve();
  private queued: Promise<CheckResult> | undefined;

  constructor(options: IdentityWatcherOptions) {
    if (options.paths.length === 0 && options.extra === undefined) {
      throw new SidecarError('CONFIG_INVALID', 'the identity watcher needs at least one file path; pass the certificate and key paths');
    }
    this.paths = [...options.paths];
    this.extra = options.extra;
    this.load = options.load;
    this.onReload = options.onReload;
    this.onReloadFailed = options.onReloadFailed;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.log = options.logger ?? nullLogger;
    this.pollMs = Math.max(100, options.pollIntervalMs ?? DEFAULT_IDENTITY_POLL_MS);
    this.maxBytes = options.maxFileBytes ?? MAX_IDENTITY_FILE_BYTES;
  }

  /** Begins polling. Stop is final: a stopped watcher does not start again. */
  start(initial: WatchStart = {}): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (initial.identity !== undefined) this.currentKey = identityKey(initial.identity);
    if (initial.hash !== undefined) this.seenHash = initial.hash;
    else void this.checkNow();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Checks the files now (SIGHUP, tests). Runs after any check in progress, so a change
   * made during that check is not missed; calls made while one is queued share it.
   */
  checkNow(): Promise<CheckResult> {
    if (this.queued !== undefined) return this.queued;
    const p: Promise<CheckResult> = this.tail.then(() => {
      if (this.queued === p) this.queued = undefined;
      return this.checkOnce();
    });
    this.queued = p;
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Resolves when every check started or queued so far has finished. */
  async settled(): Promise<void> {
    await this.tail;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      // Re-arm only after the check so checks never pile up behind a slow filesystem.
      void this.checkNow().finally(() => this.arm());
    }, this.pollMs);
  }

  private async checkOnce(): Promise<CheckResult> {
    if (this.stopped) return 'stopped';
    let hash: string;
    try {
      hash = await hashIdentityInputs(this.paths, this.extra, this.maxBytes);
    } catch (err) {
      if (this.stopped) return 'stopped';
      // A symlink swap or a delete-and-recreate can leave a path missing for an instant.
      this.failed(err, undefined);
      return 'failed';
    }
    if (this.stopped) return 'stopped';
    if (this.seenHash === undefined && this.currentKey === undefined && this.started) {
      this.seenHash = hash;
      return 'baseline';
    }
    if (hash === this.seenHash) {
      // Back to the content in use (e.g. a file that vanished for an instant reappeared).
      this.recovered();
      return 'unchanged';
    }

    let identity: Identity;
    try {
      identity = await this.load();
    } catch (err) {
      if (this.stopped) return 'stopped';
      this.failed(err, hash);
      return 'failed';
    }
    if (this.stopped) return 'stopped';
    this.seenHash = hash;
    this.recovered();
    const key = identityKey(identity);
    if (key === this.currentKey) {
      this.log.debug('identity files changed but hold the identity already in use', { fingerprint: identity.fingerprint });
      return 'same-identity';
    }
    this.currentKey = key;
    this.log.info('identity reloaded', {
      fingerprint: identity.fingerprint,
      serial: identity.serialDecimal,
      notAfter: isoSeconds(identity.notAfter),
      validForHours: Math.floor((identity.notAfter - this.clock.now()) / 3_600_000),
    });
    try {
      this.onReload(identity);
    } catch (e) {
      this.log.error('identity reload handler threw; ignoring', { message: oneLine(String((e as Error)?.message ?? e), 300) });
    }
    return 'reloaded';
  }

  private recovered(): void {
    if (this.lastFailure === undefined) return;
    this.log.info('identity files are readable and valid again', { failedCode: this.lastFailure.code });
    this.lastFailure = undefined;
  }

  private failed(err: unknown, hash: string | undefined): void {
    const e = toSidecarError(err, 'FILE_UNREADABLE');
    // Warn once per distinct broken state; a file that stays broken is retried quietly.
    const repeat = this.lastFailure !== undefined && this.lastFailure.hash === hash && this.lastFailure.code === e.code;
    const fields = { code: e.code, message: oneLine(e.message, 300), paths: this.paths.join(',') };
    if (repeat) this.log.debug('identity reload still failing; keeping the current identity', fields);
    else this.log.warn('identity reload failed; keeping the current identity and retrying on the next poll', fields);
    this.lastFailure = { hash, code: e.code };
    if (this.onReloadFailed !== undefined) {
      try {
        this.onReloadFailed(err);
      } catch (cbErr) {
        this.log.error('identity reload-failed handler threw; ignoring', { message: oneLine(String((cbErr as Error)?.message ?? cbErr), 300) });
      }
    }
  }
}

function readBounded(path: string, max: number): Promise<Buffer> {
  return readFileBounded(path, {
    maxBytes: max,
    tooLarge: () => new SidecarError('INPUT_TOO_LARGE', `${path} is larger than ${max} bytes, too large for a certificate or key file; check the path`),
    unreadable: (code, cause) => new SidecarError('FILE_UNREADABLE', `cannot read ${path} (${code}); check the path and its permissions`, { cause }),
  });
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
