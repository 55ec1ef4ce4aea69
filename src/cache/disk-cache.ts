/**
 * A private on-disk credential cache in front of a CredentialSource (a decorator with the
 * same interface), for `credential-process`: every SDK refresh re-invokes the process, and
 * without a shared cache each invocation is a CreateSession; fleets then hit the service's
 * per-account rate limit (official helper issue #31). Like the AWS CLI's own
 * ~/.aws/cli/cache, entries are JSON files readable only by their owner.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import { errnoOf, writeFailureAdvice, writeRetryDelayMs } from '../io/write-retry.js';
import { isUsable, type Credentials, type CredentialSource } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import { nullLogger, type Logger } from '../core/logger.js';
import { sleepOn, systemTimers, type Timers } from '../core/timers.js';
import { readFileBounded, writeFileAtomic } from '../io/files.js';

/** Entries are tiny; anything bigger is not ours. */
const MAX_ENTRY_BYTES = 16 * 1024;
/** A lock older than this belongs to a process that died. */
const STALE_LOCK_MS = 30_000;
/**
 * Reuse cached credentials only while they have this much life left: botocore and .NET
 * re-invoke credential_process 15 minutes before Expiration (docs/sdk-endpoints.md), so handing
 * them less would make every SDK call re-run the process.
 */
export const DEFAULT_REUSE_MIN_REMAINING_MS = 20 * 60_000;

/** Attempts to write a cache entry before the fresh credentials are returned without it. */
const CACHE_WRITE_ATTEMPTS = 3;

export interface DiskCacheOptions {
  readonly inner: CredentialSource;
  readonly dir: string;
  /** Everything that selects the credentials: identity fingerprint, ARNs, duration, endpoint. */
  readonly keyParts: readonly string[];
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  readonly reuseMinRemainingMs?: number;
  /** Waits between looks at another invocation's lock (default: real timers). */
  readonly timers?: Timers;
}

interface Entry {
  v: 1;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number;
  roleArn?: string;
  accountId?: string;
}

export function cacheKey(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

export class DiskCachedSource implements CredentialSource {
  private readonly file: string;
  private readonly lock: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly minRemaining: number;
  private readonly timers: Timers;

  constructor(private readonly opts: DiskCacheOptions) {
    const key = cacheKey(opts.keyParts);
    this.file = join(opts.dir, `${key}.json`);
    this.lock = join(opts.dir, `${key}.lock`);
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? nullLogger;
    this.minRemaining = opts.reuseMinRemainingMs ?? DEFAULT_REUSE_MIN_REMAINING_MS;
    this.timers = opts.timers ?? systemTimers;
  }

  get path(): string {
    return this.file;
  }

  async getCredentials(signal?: AbortSignal): Promise<Credentials> {
    await this.ensureDir();
    const cached = await this.read();
    if (cached !== undefined) return cached;
    const locked = await this.acquireLock();
    try {
      if (!locked) {
        // Another invocation is creating a session right now: wait briefly for its result
        // instead of adding a second CreateSession.
        for (let i = 0; i < 50; i++) {
          await sleepOn(this.timers, 100);
          const c = await this.read();
          if (c !== undefined) return c;
        }
      } else {
        const again = await this.read();
        if (again !== undefined) return again;
      }
      const fresh = await this.opts.inner.getCredentials(signal);
      await this.write(fresh);
      return fresh;
    } finally {
      if (locked) await unlink(this.lock).catch(() => undefined);
    }
  }

  /** Usable entry with enough life left, or undefined (missing, corrupt, expiring, unsafe). */
  private async read(): Promise<Credentials | undefined> {
    let text: string;
    const unsafe = new Error('unsafe cache entry');
    try {
      const data = await readFileBounded(this.file, {
        maxBytes: MAX_ENTRY_BYTES,
        inspect: (st) => {
          if (st.size > MAX_ENTRY_BYTES || (process.getuid !== undefined && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0) throw unsafe;
        },
      });
      text = data.toString('utf8');
    } catch (e) {
      if (e === unsafe) this.logger.warn('ignoring credential cache entry with unsafe owner, mode or size', { path: this.file });
      return undefined;
    }
    let e: Partial<Entry>;
    try {
      e = JSON.parse(text) as Partial<Entry>;
    } catch {
      this.logger.warn('ignoring corrupt credential cache entry', { path: this.file });
      return undefined;
    }
    if (
      e.v !== 1 ||
      typeof e.accessKeyId !== 'string' ||
      typeof e.secretAccessKey !== 'string' ||
      typeof e.sessionToken !== 'string' ||
      typeof e.expiration !== 'number'
    ) {
      return undefined;
    }
    const c: Credentials = {
      accessKeyId: e.accessKeyId,
      secretAccessKey: e.secretAccessKey,
      sessionToken: e.sessionToken,
      expiration: e.expiration,
      ...(e.roleArn !== undefined ? { roleArn: e.roleArn } : {}),
      ...(e.accountId !== undefined ? { accountId: e.accountId } : {}),
    };
    const now = this.clock.now();
    if (!isUsable(c, now) || c.expiration - now < this.minRemaining) return undefined;
    this.logger.debug('reusing cached credentials', { expiresAt: new Date(c.expiration).toISOString() });
    return c;
  }

  private async write(c: Credentials): Promise<void> {
    const entry: Entry = {
      v: 1,
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
      expiration: c.expiration,
      ...(c.roleArn !== undefined ? { roleArn: c.roleArn } : {}),
      ...(c.accountId !== undefined ? { accountId: c.accountId } : {}),
    };
    // The credentials are good; a cache that cannot be written only costs a CreateSession
    // next time. An SDK is waiting, so the retries are few and quick (a disk that was full
    // for a moment, an NFS hiccup), and each cause is said once.
    const said = new Set<string>();
    for (let attempt = 1; attempt <= CACHE_WRITE_ATTEMPTS; attempt++) {
      try {
        await writeFileAtomic(this.file, JSON.stringify(entry), { mode: 0o600, ...(this.opts.random ? { random: this.opts.random } : {}) });
        return;
      } catch (err) {
        const errno = errnoOf(err) ?? 'UNKNOWN';
        const last = attempt === CACHE_WRITE_ATTEMPTS;
        if (!said.has(errno)) {
          said.add(errno);
          this.logger.warn(
            `cannot write the credential cache: ${writeFailureAdvice(errno, this.file, this.opts.dir)}; the previous entry is left as it was, ${last ? 'not retried' : 'retrying'}`,
            { path: this.file, errno, attempt, error: err },
          );
        }
        if (last) return;
        await sleepOn(this.timers, writeRetryDelayMs(attempt, (this.opts.random ?? systemRandom).float(), 100, 400));
      }
    }
  }

  private async ensureDir(): Promise<void> {
    try {
      await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
      const st = await lstat(this.opts.dir);
      if (!st.isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new SidecarError(
        'FILE_UNREADABLE',
        `cannot use the credential cache directory ${this.opts.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): set --cache-dir to a private writable directory or pass --no-cache`,
        { cause: e },
      );
    }
  }

  private async acquireLock(): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const h = await open(this.lock, 'wx', 0o600);
        await h.close();
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return false;
        const st = await stat(this.lock).catch(() => undefined);
        if (st !== undefined && this.clock.now() - st.mtimeMs > STALE_LOCK_MS) {
          await unlink(this.lock).catch(() => undefined);
          continue;
        }
        return false;
      }
    }
    return false;
  }
}

/** Default cache directory: $XDG_CACHE_HOME or ~/.cache, then rolesanywhere-sidecar. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>, home: string): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(home, '.cache');
  return join(base, 'rolesanywhere-sidecar');
}
