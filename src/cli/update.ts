import { readFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CredentialRefresher } from '../refresh/index.js';
import { SidecarError } from '../core/errors.js';
import type { Credentials } from '../core/credentials.js';
import type { Options } from '../config/parse.js';
import { writeFileAtomic } from '../sinks/atomic-file.js';
import { profileValues, updateProfile } from '../sinks/credentials-file.js';
import { identityConfigFrom, identityLoader, loggerFrom, sessionFrom } from './context.js';
import type { CliIo } from './io.js';

/** The credentials file is small; a huge one is not a credentials file. */
const MAX_CREDENTIALS_FILE = 1024 * 1024;

/**
 * `update`: keeps `[--profile]` of the shared credentials file current. Each write is atomic
 * (readers see the old file or the new one), keeps every other line, and a failed
 * CreateSession is retried with backoff instead of ending the loop (official helper PR #91).
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
  const identity = await identityLoader(identityConfigFrom(opts, io), io, logger)();
  const session = await sessionFrom(opts, io, logger, () => identity);

  const write = async (c: Credentials) => {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    let text = '';
    try {
      const buf = await readFile(file);
      if (buf.length > MAX_CREDENTIALS_FILE) {
        throw new SidecarError('INPUT_TOO_LARGE', `${file} is larger than ${MAX_CREDENTIALS_FILE} bytes: is AWS_SHARED_CREDENTIALS_FILE pointing at the right file?`);
      }
      text = buf.toString('utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await writeFileAtomic(file, updateProfile(text, profile, profileValues(c)), { mode: 0o600, random: io.random });
    logger.info('credentials file updated', { path: file, profile, expiresAt: new Date(c.expiration).toISOString() });
  };

  try {
    if (opts.bool('once')) {
      await write(await session.client.getCredentials());
      return 0;
    }
    const refresher = new CredentialRefresher({
      source: session.client,
      clock: io.clock,
      timers: io.timers,
      random: io.random,
      logger,
      minRemainingMs: (opts.ranged('min-remaining', 0, 43200) ?? 1800) * 1000,
      onSuccess: (c) => {
        write(c).catch((e: unknown) => logger.error('cannot write the credentials file', { path: file, error: e }));
      },
    });
    refresher.start();
    const offs: Array<() => void> = [];
    await new Promise<void>((resolve) => {
      offs.push(io.onSignal('SIGTERM', resolve), io.onSignal('SIGINT', resolve));
    });
    for (const off of offs) off();
    refresher.stop();
    return 0;
  } finally {
    await session.client.close();
  }
}
