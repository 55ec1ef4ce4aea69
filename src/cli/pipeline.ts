/**
 * The long-running half every continuous command shares (serve, exec, demo, update):
 * identity -> CreateSession client -> refresher, with the certificate and key files watched
 * for rotation. Commands add their sinks (listeners, a credentials file) through the hooks.
 */
import type { CredentialSource, Credentials } from '../core/credentials.js';
import type { Identity } from '../core/identity.js';
import type { Logger } from '../core/logger.js';
import type { Options } from '../config/parse.js';
import type { IdentityConfig } from '../identity/index.js';
import { CredentialRefresher, hashIdentityInputs, IdentityWatcher, lifetimeWarning } from '../refresh/index.js';
import type { AttemptEvent } from '../session/index.js';
import { REFRESHER_RETRY_POLICY, type RetryPolicy } from '../session/retry.js';
import type { IssuanceInfo } from '../chain/source.js';
import type { Metrics } from '../telemetry/metrics.js';
import { createAuditor } from './audit.js';
import { buildChain, chainInputFromFlags, type Chain, type ChainHooks } from './chain.js';
import { identityConfigFrom, identityLoader, sessionFrom, type SessionSetup } from './context.js';
import type { CliIo } from './io.js';

/** Default spread of the refresh after a certificate rotation or SIGHUP (`--rotation-jitter`). */
export const DEFAULT_ROTATION_JITTER_SECONDS = 300;

export interface PipelineHooks {
  onAttempt?(e: AttemptEvent): void;
  /** The clock offset CreateSession signs with changed (see CreateSessionClient.clockOffsetMs). */
  onClockSkew?(offsetMs: number): void;
  /** The client's retry policy: REFRESHER_RETRY_POLICY (default) when the refresher runs, DEFAULT_RETRY_POLICY for one-shot use. */
  clientRetry?: RetryPolicy;
  onCredentials?(c: Credentials): void;
  onRefreshFailure?(err: unknown, refresher: CredentialRefresher): void;
  /** The identity in use: at start (`reloaded` false) and after each rotation. */
  onIdentity?(identity: Identity, reloaded: boolean): void;
  onIdentityFailure?(err: unknown): void;
  /** Each chained issuance (role chaining only). */
  onChained?: ChainHooks['onIssued'];
  /** Where the audit metric is counted (serve, exec). */
  metrics?: Metrics;
}

export interface Pipeline {
  readonly session: SessionSetup;
  readonly refresher: CredentialRefresher;
  /** What the refresher reads: the CreateSession client, or role chaining around it. */
  readonly source: CredentialSource;
  /** The role whose credentials are served (the chained role when chaining). */
  readonly servedRoleArn: string;
  readonly chain?: Chain;
  identity(): Identity;
  /** Starts refreshing and watching the files. */
  start(): void;
  /** Checks the certificate and key files now (SIGHUP). */
  reloadIdentity(): Promise<void>;
  /** Stops timers and closes the client. */
  stop(): Promise<void>;
}

function filePaths(cfg: IdentityConfig): string[] {
  return [cfg.certificate, cfg.privateKey, cfg.intermediates]
    .filter((s): s is { kind: 'file'; path: string } => s !== undefined && s.kind === 'file')
    .map((s) => s.path);
}

/** A loaded identity with its rotation watcher, shared by the roles that use the same certificate. */
export interface IdentityHolder {
  identity(): Identity;
  /** Called after each rotation. */
  onReload(listener: (next: Identity) => void): void;
  start(): void;
  reload(): Promise<void>;
  stop(): void;
}

export async function createIdentityHolder(
  opts: Options,
  io: CliIo,
  logger: Logger,
  hooks: Pick<PipelineHooks, 'onIdentity' | 'onIdentityFailure'> = {},
): Promise<IdentityHolder> {
  const idCfg = identityConfigFrom(opts, true, io);
  const load = identityLoader(idCfg, io, logger);
  const paths = filePaths(idCfg);
  // A certificate on a PKCS#11 token is watched through the token (it is public: no PIN).
  const tokenCert = idCfg.certificate.kind === 'pkcs11' ? idCfg.certificate : undefined;
  const extra =
    tokenCert !== undefined
      ? async (): Promise<Buffer> => {
          const { loadHardwareCertificate } = await import('../identity/hardware.js');
          return (await loadHardwareCertificate(tokenCert, idCfg.hardware ?? { cache: {} })).leaf.raw;
        }
      : undefined;
  const watched = paths.length > 0 || extra !== undefined;
  // Hash before loading, so a rotation racing start-up shows as a change on the first poll.
  const initialHash = watched ? await hashIdentityInputs(paths, extra).catch(() => undefined) : undefined;
  let identity = await load();
  hooks.onIdentity?.(identity, false);
  const listeners: Array<(next: Identity) => void> = [];
  // Certificates outlive no long-running process: follow rotation, or the sidecar would sign
  // with the old certificate until it expires and then fail for good.
  const watcher = watched
    ? new IdentityWatcher({
        paths,
        ...(extra !== undefined ? { extra } : {}),
        load,
        clock: io.clock,
        timers: io.timers,
        logger,
        pollIntervalMs: (opts.ranged('identity-poll-interval', 1, 86400) ?? 10) * 1000,
        onReload: (next) => {
          identity = next;
          hooks.onIdentity?.(next, true);
          logger.info('certificate reloaded; refreshing credentials with the new identity', {
            fingerprint: next.fingerprint,
            serial: next.serialDecimal,
            notAfter: new Date(next.notAfter).toISOString(),
          });
          for (const l of listeners) l(next);
        },
        ...(hooks.onIdentityFailure !== undefined ? { onReloadFailed: hooks.onIdentityFailure } : {}),
      })
    : undefined;
  let started = false;
  return {
    identity: () => identity,
    onReload: (l) => listeners.push(l),
    start: () => {
      if (started) return;
      started = true;
      watcher?.start({ ...(initialHash !== undefined ? { hash: initialHash } : {}), identity });
    },
    reload: async () => {
      if (watcher !== undefined) await watcher.checkNow();
    },
    stop: () => watcher?.stop(),
  };
}

export interface PipelineShared {
  /** An identity loaded once for several roles; the pipeline neither starts nor stops it. */
  readonly identity?: IdentityHolder;
  /** The role's name in audit records and metrics (default `default`). */
  readonly roleName?: string;
}

export async function createPipeline(opts: Options, io: CliIo, logger: Logger, hooks: PipelineHooks = {}, shared: PipelineShared = {}): Promise<Pipeline> {
  const holder = shared.identity ?? (await createIdentityHolder(opts, io, logger, hooks));
  const ownsIdentity = shared.identity === undefined;
  const identity = holder.identity;

  const minRemainingMs = (opts.ranged('min-remaining', 0, 43200) ?? 1800) * 1000;
  const rotationJitterMs = (opts.ranged('rotation-jitter', 0, 3600) ?? DEFAULT_ROTATION_JITTER_SECONDS) * 1000;
  // The refresher owns the backoff from throttling.
  const session = await sessionFrom(opts, io, logger, identity, {
    ...(hooks.onAttempt !== undefined ? { onAttempt: hooks.onAttempt } : {}),
    ...(hooks.onClockSkew !== undefined ? { onClockSkew: hooks.onClockSkew } : {}),
    retry: hooks.clientRetry ?? REFRESHER_RETRY_POLICY,
  });
  const chainInput = await chainInputFromFlags(opts);
  let chain: Chain | undefined;
  let lastChained: IssuanceInfo | undefined;
  const auditor = await createAuditor(opts, io.clock, logger, shared.roleName ?? 'default', hooks.metrics);
  try {
    chain =
      chainInput !== undefined
        ? await buildChain(chainInput, session, identity(), io, logger, {
            onIssued: (c, info) => {
              lastChained = info;
              hooks.onChained?.(c, info);
            },
          })
        : undefined;
  } catch (e) {
    await session.client.close();
    await auditor.close();
    throw e;
  }
  const warning = lifetimeWarning(chain?.options.durationSeconds ?? session.params.durationSeconds, minRemainingMs);
  if (warning !== undefined) logger.warn(warning);
  const servedRoleArn = chain?.options.roleArn ?? session.params.roleArn;
  const source: CredentialSource = auditor.wrap(chain?.source ?? session.client, () => ({
    roleArn: servedRoleArn,
    ...(chain !== undefined ? { chain: chain.options } : {}),
    ...(lastChained !== undefined ? { lastChained } : {}),
  }));

  const refresher: CredentialRefresher = new CredentialRefresher({
    source,
    clock: io.clock,
    timers: io.timers,
    random: io.random,
    logger,
    minRemainingMs,
    ...(hooks.onCredentials !== undefined ? { onSuccess: (c: Credentials) => hooks.onCredentials!(c) } : {}),
    ...(hooks.onRefreshFailure !== undefined ? { onFailure: (err: unknown) => hooks.onRefreshFailure!(err, refresher) } : {}),
  });
  holder.onReload(() => {
    // Spread: a rotation (or SIGHUP) rolled out to a fleet must not become a herd.
    refresher.refreshWithin('identity-reload', rotationJitterMs);
  });

  return {
    session,
    refresher,
    source,
    servedRoleArn,
    ...(chain !== undefined ? { chain } : {}),
    identity,
    start: () => {
      refresher.start();
      if (ownsIdentity) holder.start();
    },
    reloadIdentity: async () => {
      if (ownsIdentity) await holder.reload();
    },
    stop: async () => {
      if (ownsIdentity) holder.stop();
      refresher.stop();
      await session.client.close();
      await chain?.close();
      await auditor.close();
    },
  };
}
