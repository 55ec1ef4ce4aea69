/**
 * The file I/O every part of the sidecar shares: bounded reads of inputs (certificates,
 * keys, CA bundles, the credentials file, cache entries) and atomic 0600 writes of secrets.
 * One low module, so sinks, cache, serve and identity need not import one another for it.
 */
import type { Stats } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { systemRandom, type Random } from '../core/clock.js';
import { SidecarError, oneLine } from '../core/errors.js';

/** What an errno means to the person who gave the path. */
const ERRNO_MEANING: Readonly<Record<string, string>> = {
  ENOENT: 'does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  EIO: 'I/O error',
};

export function errnoMeaning(code: string): string {
  return ERRNO_MEANING[code] ?? code;
}

export interface BoundedReadOptions {
  /** The read fails past this many bytes, whatever fstat says. */
  readonly maxBytes: number;
  /**
   * Sees the open file's fstat before any byte is read (owner, mode, size); throws to
   * refuse the file. Checking the descriptor, not the path, leaves no window for a swap.
   */
  readonly inspect?: (st: Stats) => void;
  /** The error for a file over `maxBytes` (default: INPUT_TOO_LARGE naming the path). */
  readonly tooLarge?: () => Error;
  /** The error for an errno from open or read (default: FILE_UNREADABLE naming the path). */
  readonly unreadable?: (code: string, cause?: unknown) => Error;
}

function defaultTooLarge(path: string, maxBytes: number): Error {
  return new SidecarError('INPUT_TOO_LARGE', `${path} is larger than ${maxBytes} bytes; check the path`, { details: { path, maxBytes } });
}

function defaultUnreadable(path: string, code: string, cause?: unknown): Error {
  return new SidecarError('FILE_UNREADABLE', `cannot read ${path}: ${errnoMeaning(code)}; check the path and its permissions`, {
    cause,
    details: { path, errno: code },
  });
}

/**
 * Reads a whole file, never more than `maxBytes`: fstat first (a directory or an oversized
 * file fails before a byte is read), then reads to one past the cap rather than trusting
 * the size, since FIFOs, /dev/stdin and files growing during a rotation report a size that
 * is not what a read returns.
 */
export async function readFileBounded(path: string, opts: BoundedReadOptions): Promise<Buffer> {
  const { maxBytes } = opts;
  const tooLarge = opts.tooLarge ?? (() => defaultTooLarge(path, maxBytes));
  const unreadable = opts.unreadable ?? ((code: string, cause?: unknown) => defaultUnreadable(path, code, cause));
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw unreadable((e as NodeJS.ErrnoException).code ?? 'EIO', e);
  }
  try {
    let st: Stats;
    try {
      st = await fh.stat();
    } catch (e) {
      throw unreadable((e as NodeJS.ErrnoException).code ?? 'EIO', e);
    }
    if (st.isDirectory()) throw unreadable('EISDIR');
    opts.inspect?.(st);
    if (st.size > maxBytes) throw tooLarge();
    // Small first buffer for the usual few-KiB file; grown only as data keeps coming.
    let buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)));
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, total, buf.length - total, null));
      } catch (e) {
        throw unreadable((e as NodeJS.ErrnoException).code ?? 'EIO', e);
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooLarge();
    }
    return buf.subarray(0, total);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Reads a stream to its end, never holding more than `maxBytes`: leaving the loop on the
 * cap ends (destroys) the stream, since nothing more is wanted from it.
 */
export async function readStreamBounded(stream: NodeJS.ReadableStream, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    total += b.length;
    if (total > maxBytes) throw tooLarge();
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

export interface AtomicWriteOptions {
  mode?: number;
  random?: Random;
}

/**
 * Atomic writes for files that hold secrets: a temp file in the same directory (so the
 * rename cannot cross file systems), created 0600 before any byte is written, fsynced,
 * renamed over the target, then the directory fsynced so the rename itself survives a crash.
 * A concurrent reader sees the old file or the new one, never a mix.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${(opts.random ?? systemRandom).bytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(tmp, 'wx', mode);
    await handle.chmod(mode); // the umask may have narrowed or, with open(2) semantics, kept the mode; be explicit
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new SidecarError(
      'FILE_UNWRITABLE',
      oneLine(`cannot write ${path} (${err.code ?? err.message}): check that the directory ${dir} exists and is writable by this user, or choose another path`),
      { cause: e, details: { path, errno: err.code } },
    );
  }
  // Best effort: some file systems refuse fsync on a directory.
  const d = await open(dir, 'r').catch(() => undefined);
  if (d !== undefined) {
    await d.sync().catch(() => undefined);
    await d.close().catch(() => undefined);
  }
}
