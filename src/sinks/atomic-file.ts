/**
 * Atomic writes for files that hold secrets: a temp file in the same directory (so the
 * rename cannot cross file systems), created 0600 before any byte is written, fsynced,
 * renamed over the target, then the directory fsynced so the rename itself survives a crash.
 * A concurrent reader sees the old file or the new one, never a mix.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { systemRandom, type Random } from '../core/clock.js';
import { SidecarError, oneLine } from '../core/errors.js';

export interface AtomicWriteOptions {
  mode?: number;
  random?: Random;
}

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
