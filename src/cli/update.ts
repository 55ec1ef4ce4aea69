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
import { RetryingWriter } from '../io/write-retry.js';
import type { Listener } from '../serve/listener.js';

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

  // Metrics exist only with an operations listener (--ops-port): update often runs as a
  // user's service where nothing scrapes.
  const withOps = !opts.bool('once') && opts.has('ops-port');
  const registry = withOps ? new (await import('prom-client')).Registry() : undefined;
  const metrics = registry !== undefined ? (await import('../telemetry/metrics.js')).createMetrics(registry) : undefined;

  // Writes run one after another (two read-modify-writes racing could put the older
  // credentials in the file last), and a failed one (full disk, read-only remount,
  // permissions, I/O error) is retried with backoff, the file left as it was meanwhile.
  const writer = new RetryingWriter({
    what: 'the credentials file',
    path: file,
    dir: dirname(file),
    timers: io.timers,
    random: io.random,
    logger,
    onFailure: (errno) => metrics?.fileWriteFailures.inc({ file: 'credentials-file', errno }),
  });
  const pipeline = await createPipeline(opts, io, logger, {
    // --once is one fetch with nothing behind it: the client's quick retries, as credential-process.
    ...(opts.bool('once') ? { clientRetry: DEFAULT_RETRY_POLICY } : {}),
    onCredentials: (c) => {
      metrics?.credentialsExpiry.set(c.expiration / 1000);
      writer.submit(() => write(c));
    },
    ...(metrics !== undefined
      ? {
          onRefreshFailure: (err: unknown) => metrics.refreshFailures.inc({ code: err instanceof SidecarError ? err.code : 'INTERNAL' }),
          onClockSkew: (ms: number) => metrics.clockSkew.set(ms / 1000),
        }
      : {}),
  });
  let ops: Listener | undefined;
  try {
    if (opts.bool('once')) {
      await write(await pipeline.source.getCredentials());
      return 0;
    }
    if (registry !== undefined && metrics !== undefined) {
      const { createOpsHandler, startListener } = await import('../serve/index.js');
      ops = await startListener({
        name: 'ops',
        host: opts.str('ops-address') ?? '127.0.0.1',
        port: opts.ranged('ops-port', 0, 65535) ?? 9913,
        allowNonLoopback: opts.bool('ops-allow-non-loopback'),
        logger,
        metrics,
        handler: createOpsHandler({
          registry,
          logger,
          readiness: () => {
            const s = pipeline.refresher.status();
            if (s.ready && writer.consecutiveFailures === 0) return { ready: true };
            if (writer.consecutiveFailures > 0) return { ready: false, reason: `the credentials file cannot be written (${writer.consecutiveFailures} failed attempts)` };
            return { ready: false, reason: s.lastErrorCode !== undefined ? `no fresh credentials (last error ${s.lastErrorCode})` : 'no credentials yet' };
          },
        }),
      });
      logger.info('operations listener started', { url: ops.url.href });
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
    // A write in flight finishes; a scheduled retry is not waited for.
    writer.stop();
    await writer.idle();
    await ops?.close(1_000);
  }
}
