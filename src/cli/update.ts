import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SidecarError } from '../core/errors.js';
import type { Credentials } from '../core/credentials.js';
import type { Options } from '../config/parse.js';
import { errnoMeaning, readFileBounded, writeFileAtomic } from '../io/files.js';
import { MAX_CREDENTIALS_FILE_BYTES, profileValues, updateProfile } from '../sinks/credentials-file.js';
import { loggerFrom } from './context.js';
import type { CliIo } from './io.js';
import { DEFAULT_RETRY_POLICY } from '../session/retry.js';
import { createPipeline } from './pipeline.js';

/**
 * `update`: keeps `[--profile]` of the shared credentials file current. Each write is atomic
 * (readers see the old file or the new one), keeps every other line, and a failed
 * CreateSession is retried with backoff instead of ending the loop (official helper PR #91),
 * and a rotated certificate is picked up (polled, or at once on SIGHUP).
 */
export async function update(opts: Options, io: CliIo): Promise<number> {
  const logger = loggerFrom(opts, io, { command: 'update' });
  const profile = opts.str('profile') ?? 'default';
  if (!/^[A-Za-z0-9_.\- ]{1,64}$/.test(profile)) {
    throw new SidecarError('CONFIG_INVALID', `${opts.origin('profile')} "${profile.slice(0, 64)}" is not a usable profile name: use letters, digits, "_", "-", "." or spaces`);
  }
  const file =
    io.env.AWS_SHARED_CREDENTIALS_FILE !== undefined && io.env.AWS_SHARED_CREDENTIALS_FILE !== ''
      ? io.env.AWS_SHARED_CREDENTIALS_FILE
      : join(io.homedir, '.aws', 'credentials');
  const write = async (c: Credentials) => {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    let text = '';
    const missing = new Error('no credentials file yet');
    try {
      const buf = await readFileBounded(file, {
        maxBytes: MAX_CREDENTIALS_FILE_BYTES,
        tooLarge: () =>
          new SidecarError('INPUT_TOO_LARGE', `${file} is larger than ${MAX_CREDENTIALS_FILE_BYTES} bytes: is AWS_SHARED_CREDENTIALS_FILE pointing at the right file?`),
        unreadable: (code, cause) =>
          code === 'ENOENT'
            ? missing
            : new SidecarError('FILE_UNREADABLE', `cannot read ${file}: ${errnoMeaning(code)}; fix its permissions or point AWS_SHARED_CREDENTIALS_FILE elsewhere`, {
                cause,
                details: { path: file, errno: code },
              }),
      });
      text = buf.toString('utf8');
    } catch (e) {
      if (e !== missing) throw e;
    }
    await writeFileAtomic(file, updateProfile(text, profile, profileValues(c)), { mode: 0o600, random: io.random });
    logger.info('credentials file updated', { path: file, profile, expiresAt: new Date(c.expiration).toISOString() });
  };

  // Writes run one after another: two read-modify-writes racing could put the older
  // credentials in the file last.
  let writes: Promise<void> = Promise.resolve();
  const pipeline = await createPipeline(opts, io, logger, {
    // --once is one fetch with nothing behind it: the client's quick retries, as credential-process.
    ...(opts.bool('once') ? { clientRetry: DEFAULT_RETRY_POLICY } : {}),
    onCredentials: (c) => {
      writes = writes.then(() => write(c)).catch((e: unknown) => logger.error('cannot write the credentials file', { path: file, error: e }));
    },
  });
  try {
    if (opts.bool('once')) {
      await write(await pipeline.session.client.getCredentials());
      return 0;
    }
    pipeline.start();
    const offs: Array<() => void> = [];
    await new Promise<void>((resolve) => {
      offs.push(
        io.onSignal('SIGTERM', resolve),
        io.onSignal('SIGINT', resolve),
        // As serve: SIGHUP re-reads the certificate and key now (and no longer ends the process).
        io.onSignal('SIGHUP', () => {
          logger.info('SIGHUP: checking the certificate and key files');
          pipeline.reloadIdentity().catch(() => undefined);
        }),
      );
    });
    for (const off of offs) off();
    return 0;
  } finally {
    await pipeline.stop();
    await writes;
  }
}
