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
import { createIdentityHolder, createPipeline, type IdentityHolder, type Pipeline, type PipelineHooks } from './pipeline.js';
import { RetryingWriter } from '../io/write-retry.js';
import type { Listener } from '../serve/listener.js';
import { rolesFrom } from './roles.js';
import { readinessOf } from '../refresh/readiness.js';

/**
 * `update`: keeps `[--profile]` of the shared credentials file current. Each write is atomic
 * (readers see the old file or the new one), keeps every other line, and a failed
 * CreateSession is retried with backoff instead of ending the loop (official helper PR #91),
 * and a rotated certificate is picked up (polled, or at once on SIGHUP).
 */
export async function update(opts: Options, io: CliIo): Promise<number> {
  const logger = loggerFrom(opts, io, { command: 'update' });
  const checkProfile = (profile: string, o: Options): string => {
    if (!/^[A-Za-z0-9_.\- ]{1,64}$/.test(profile)) {
      throw new SidecarError(
        'CONFIG_INVALID',
        `${o.origin('profile')} "${profile.slice(0, 64)}" is not a usable profile name: use letters, digits, "_", "-", "." or spaces`,
      );
    }
    return profile;
  };
  const file = opts.environment.sharedCredentialsFile ?? join(io.homedir, '.aws', 'credentials');
  /** Writes every profile's newest credentials in one read-modify-write. */
  const writeAll = async (profiles: ReadonlyMap<string, Credentials>) => {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    let text = '';
    const missing = new Error('no credentials file yet');
    try {
      const buf = await readFileBounded(file, {
        maxBytes: MAX_CREDENTIALS_FILE_BYTES,
        tooLarge: () =>
          new SidecarError(
            'INPUT_TOO_LARGE',
            `${file} is larger than ${MAX_CREDENTIALS_FILE_BYTES} bytes: is AWS_SHARED_CREDENTIALS_FILE pointing at the right file?`,
          ),
        unreadable: (code, cause) =>
          code === 'ENOENT'
            ? missing
            : new SidecarError(
                'FILE_UNREADABLE',
                `cannot read ${file}: ${errnoMeaning(code)}; fix its permissions or point AWS_SHARED_CREDENTIALS_FILE elsewhere`,
                {
                  cause,
                  details: { path: file, errno: code },
                },
              ),
      });
      text = buf.toString('utf8');
    } catch (e) {
      if (e !== missing) throw e;
    }
    for (const [profile, c] of profiles) text = updateProfile(text, profile, profileValues(c));
    await writeFileAtomic(file, text, { mode: 0o600, random: io.random });
    for (const [profile, c] of profiles) logger.info('credentials file updated', { path: file, profile, expiresAt: new Date(c.expiration).toISOString() });
  };
  const write = (c: Credentials, profile: string) => writeAll(new Map([[profile, c]]));

  // Metrics exist only with an operations listener (--ops-port): update often runs as a
  // user's service where nothing scrapes.
  const withOps = !opts.bool('once') && opts.has('ops-port');
  const registry = withOps ? new (await import('prom-client')).Registry() : undefined;
  const metrics = registry !== undefined ? (await import('../telemetry/metrics.js')).createMetrics(registry) : undefined;

  // Writes run one after another (two read-modify-writes racing could put the older
  // credentials in the file last), each carries every profile's newest credentials, and a
  // failed one (full disk, read-only remount, permissions, I/O error) is retried with
  // backoff, the file left as it was meanwhile.
  const writer = new RetryingWriter({
    what: 'the credentials file',
    path: file,
    dir: dirname(file),
    timers: io.timers,
    random: io.random,
    logger,
    onFailure: (errno) => metrics?.fileWriteFailures.inc({ file: 'credentials-file', errno }),
  });
  const newest = new Map<string, Credentials>();
  const hooks = (profile: string): PipelineHooks => ({
    // --once is one fetch with nothing behind it: the client's quick retries, as credential-process.
    ...(opts.bool('once') ? { clientRetry: DEFAULT_RETRY_POLICY } : {}),
    onCredentials: (c: Credentials) => {
      metrics?.credentialsExpiry.set(c.expiration / 1000);
      newest.set(profile, c);
      const snapshot = new Map(newest);
      writer.submit(() => writeAll(snapshot));
    },
    ...(metrics !== undefined
      ? {
          onRefreshFailure: (err: unknown) => metrics.refreshFailures.inc({ code: err instanceof SidecarError ? err.code : 'INTERNAL' }),
          onClockSkew: (ms: number) => metrics.clockSkew.set(ms / 1000),
        }
      : {}),
  });
  let ops: Listener | undefined;
  // With --config, one profile per role (the role's name unless it sets `profile`), one
  // refresher each, one certificate load shared by the roles without their own.
  const configured = await rolesFrom(opts);
  const pipelines: Array<{ pipeline: Pipeline; profile: string }> = [];
  let shared: IdentityHolder | undefined;
  const stopAll = async () => {
    for (const p of pipelines) await p.pipeline.stop();
    shared?.stop();
  };
  try {
    if (configured === undefined) {
      const profile = checkProfile(opts.str('profile') ?? 'default', opts);
      pipelines.push({ profile, pipeline: await createPipeline(opts, io, logger, hooks(profile)) });
    } else {
      for (const r of configured.roles) {
        const profile = checkProfile(r.opts.origin('profile').includes(' roles.') ? (r.opts.str('profile') ?? r.name) : r.name, r.opts);
        let identity: IdentityHolder | undefined;
        if (!r.ownIdentity) identity = shared ??= await createIdentityHolder(configured.shared, io, logger);
        pipelines.push({
          profile,
          pipeline: await createPipeline(r.opts, io, logger.child({ role: r.name }), hooks(profile), {
            roleName: r.name,
            ...(identity !== undefined ? { identity } : {}),
          }),
        });
      }
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  try {
    if (opts.bool('once')) {
      for (const p of pipelines) await write(await p.pipeline.source.getCredentials(), p.profile);
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
            if (writer.consecutiveFailures > 0)
              return { ready: false, reason: `the credentials file cannot be written (${writer.consecutiveFailures} failed attempts)` };
            return readinessOf(pipelines.map((p) => ({ name: p.profile, status: p.pipeline.refresher.status() })));
          },
        }),
      });
      logger.info('operations listener started', { url: ops.url.href });
    }
    for (const p of pipelines) p.pipeline.start();
    shared?.start();
    const offs: Array<() => void> = [];
    await new Promise<void>((resolve) => {
      offs.push(
        io.onSignal('SIGTERM', resolve),
        io.onSignal('SIGINT', resolve),
        // As serve: SIGHUP re-reads the certificate and key now (and no longer ends the process).
        io.onSignal('SIGHUP', () => {
          logger.info('SIGHUP: checking the certificate and key files');
          shared?.reload().catch(() => undefined);
          for (const p of pipelines) p.pipeline.reloadIdentity().catch(() => undefined);
        }),
      );
    });
    for (const off of offs) off();
    return 0;
  } finally {
    await stopAll();
    // A write in flight finishes; a scheduled retry is not waited for.
    writer.stop();
    await writer.idle();
    await ops?.close(1_000);
  }
}
