/**
 * The sidecar assembled: identity -> CreateSession client -> refresher -> endpoints, with
 * rotation, metrics and shutdown. Used by `serve`, `exec` and `demo`; nothing else wires
 * these layers together.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { SidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Logger } from '../core/logger.js';
import type { Options } from '../config/parse.js';
import type { CredentialRefresher } from '../refresh/index.js';
import { readinessOf } from '../refresh/readiness.js';
import { parseRoleArn } from '../session/index.js';
import {
  createContainerHandler,
  createImdsHandler,
  createOpsHandler,
  generateToken,
  ImdsTokenStore,
  normaliseAllowedHost,
  requestPath,
  startListener,
  validateContainerToken,
  writeSecretFile,
  type Listener,
  type RequestHandler,
} from '../serve/index.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { loggerFrom } from './context.js';
import type { CliIo } from './io.js';
import { createIdentityHolder, createPipeline, type IdentityHolder, type Pipeline, type PipelineHooks } from './pipeline.js';
import { rolesFrom } from './roles.js';

export interface SidecarOverrides {
  /** Force ephemeral loopback ports (exec). */
  readonly ephemeralPorts?: boolean;
  /** Keep the token out of any file unless --container-token-file is given (exec passes it in env). */
  readonly tokenInEnvOnly?: boolean;
  readonly component?: string;
  /** The options are already one role's (exec --role-name): do not read --config again. */
  readonly singleRole?: boolean;
}

export interface RoleEndpoint {
  readonly role: string;
  readonly variable: string;
  readonly value: string;
}

interface ServedRole {
  readonly name: string;
  readonly isDefault: boolean;
  readonly opts: Options;
  readonly pipeline: Pipeline;
}

/** Routes the container listener's requests by path to each role's handler (404 from the first otherwise). */
function containerRouter(routes: ReadonlyArray<readonly [string, RequestHandler]>): RequestHandler {
  const byPath = new Map(routes);
  const fallback = routes[0]![1];
  return (req, res) => {
    const path = requestPath(req.url);
    const handler = (path !== undefined ? byPath.get(path) : undefined) ?? fallback;
    return handler(req, res);
  };
}

export interface RunningSidecar {
  /** With --config: each role's endpoints (printed as comments by serve). */
  readonly roleEndpoints: readonly RoleEndpoint[];
  readonly roles: ReadonlyArray<{ readonly name: string; readonly refresher: CredentialRefresher }>;
  /** `NAME=VALUE` pairs a client needs, in print order. */
  readonly clientEnv: ReadonlyArray<readonly [string, string]>;
  /** The container token (exec hands it to the child through the environment). */
  readonly containerToken?: string;
  readonly refresher: CredentialRefresher;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly listeners: Readonly<Record<string, Listener>>;
  identity(): Identity;
  /** Checks the certificate and key files now (SIGHUP). */
  reloadIdentity(): Promise<void>;
  /** Graceful stop: listeners drain, timers stop, generated secret files are removed. */
  stop(graceMs?: number): Promise<void>;
}

export async function startSidecar(opts: Options, io: CliIo, overrides: SidecarOverrides = {}): Promise<RunningSidecar> {
  const logger = loggerFrom(opts, io, { command: overrides.component ?? 'serve' });
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const outcome = (o: string) => (o === 'success' ? 'success' : 'failure');
  const hooks = (isDefault: boolean): PipelineHooks => ({
    metrics,
    onAttempt: (e) => {
      metrics.createSessionCalls.inc({ outcome: outcome(e.outcome), code: e.code ?? 'none' });
      metrics.createSessionDuration.observe({ outcome: outcome(e.outcome) }, e.durationMs / 1000);
    },
    onClockSkew: (offsetMs) => metrics.clockSkew.set(offsetMs / 1000),
    onCredentials: (c) => {
      if (isDefault) metrics.credentialsExpiry.set(c.expiration / 1000);
      metrics.ready.set(roles.every((r) => r.pipeline.refresher.status().ready) ? 1 : 0);
    },
    onRefreshFailure: (err) => {
      metrics.refreshFailures.inc({ code: err instanceof SidecarError ? err.code : 'INTERNAL' });
      metrics.ready.set(roles.every((r) => r.pipeline.refresher.status().ready) ? 1 : 0);
    },
    onIdentity: (identity, reloaded) => {
      metrics.certificateNotAfter.set(identity.notAfter / 1000);
      if (reloaded) metrics.identityReloads.inc({ result: 'success' });
    },
    onIdentityFailure: () => metrics.identityReloads.inc({ result: 'failure' }),
  });
  // One pipeline (session client, chaining, refresher) per role; one certificate load shared
  // by every role that does not name its own.
  const roles: ServedRole[] = [];
  const configured = overrides.singleRole === true ? undefined : await rolesFrom(opts);
  let sharedIdentity: IdentityHolder | undefined;
  try {
    if (configured === undefined) {
      roles.push({ name: 'default', isDefault: true, opts, pipeline: await createPipeline(opts, io, logger, hooks(true)) });
    } else {
      for (const r of configured.roles) {
        const roleLogger = logger.child({ role: r.name });
        let identity: IdentityHolder | undefined;
        if (!r.ownIdentity) identity = sharedIdentity ??= await createIdentityHolder(configured.shared, io, logger, hooks(true));
        const pipeline = await createPipeline(r.opts, io, roleLogger, hooks(r.isDefault), {
          roleName: r.name,
          ...(identity !== undefined ? { identity } : {}),
        });
        roles.push({ name: r.name, isDefault: r.isDefault, opts: r.opts, pipeline });
      }
    }
  } catch (e) {
    for (const r of roles) await r.pipeline.stop().catch(() => undefined);
    sharedIdentity?.stop();
    throw e;
  }
  const main = roles[0]!;
  const pipeline = main.pipeline;
  const { session, refresher } = pipeline;

  const listeners: Record<string, Listener> = {};
  const clientEnv: Array<[string, string]> = [];
  const roleEndpoints: RoleEndpoint[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const allowAll = opts.bool('allow-non-loopback');
  const allowNonLoopback = (listener: 'imds' | 'container' | 'ops') => allowAll || opts.bool(`${listener}-allow-non-loopback`);
  const port = (flag: string, fallback: number) => (overrides.ephemeralPorts === true ? 0 : (opts.ranged(flag, 0, 65535) ?? fallback));
  let containerToken: string | undefined;
  const credentialGuard = { allowedHosts: parseAllowedHosts(opts) };

  const stopAll = async (graceMs = 5000) => {
    await Promise.all(Object.values(listeners).map((l) => l.close(graceMs)));
    for (const r of roles) await r.pipeline.stop();
    sharedIdentity?.stop();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };

  try {
    const viewOf = (r: CredentialRefresher) => ({
      current: () => r.current(),
      get generation() {
        return r.generation;
      },
      unavailableReason: () => {
        const s = r.status();
        return s.lastErrorCode !== undefined ? { code: s.lastErrorCode, message: s.lastErrorMessage ?? '' } : undefined;
      },
    });
    const view = viewOf(refresher);
    if (!opts.bool('no-imds')) {
      // EC2's interface serves one role, so each role gets its own listener: the default role
      // on --port, the others on their imdsPort (a free port when not given).
      for (const r of roles) {
        const roleName = r.opts.str('role-name') ?? parseRoleArn(r.pipeline.servedRoleArn).resource.split('/').pop()!;
        const tokens = new ImdsTokenStore({ clock: io.clock, random: io.random });
        const ownPort = r.opts.origin('port').includes(' roles.');
        const l = await startListener({
          name: 'imds',
          host: opts.str('address') ?? '127.0.0.1',
          port: r.isDefault ? port('port', 9911) : overrides.ephemeralPorts === true || !ownPort ? 0 : (r.opts.ranged('port', 0, 65535) ?? 0),
          allowNonLoopback: allowNonLoopback('imds'),
          credentialGuard,
          logger,
          metrics,
          handler: createImdsHandler({
            view: viewOf(r.pipeline.refresher),
            roleName,
            allowV1: opts.bool('imdsv1'),
            ...(opts.bool('serve-region') ? { region: r.pipeline.session.region } : {}),
            tokens,
            clock: io.clock,
            random: io.random,
            logger,
            metrics,
          }),
        });
        listeners[r.isDefault ? 'imds' : `imds:${r.name}`] = l;
        if (configured !== undefined) roleEndpoints.push({ role: r.name, variable: 'AWS_EC2_METADATA_SERVICE_ENDPOINT', value: l.url.href });
        // The trailing slash is needed by AWS CLI v2.9; the server folds the `//` others then send.
        if (r.isDefault) clientEnv.push(['AWS_EC2_METADATA_SERVICE_ENDPOINT', l.url.href]);
      }
    }
    if (!opts.bool('no-container')) {
      const fromEnv = opts.environment.containerToken;
      if (fromEnv !== undefined) validateContainerToken(fromEnv);
      containerToken = fromEnv ?? generateToken(io.random);
      const path = opts.str('container-path') ?? '/credentials';
      if (!path.startsWith('/') || path.length > 256) {
        throw new SidecarError('CONFIG_INVALID', `${opts.origin('container-path')} must be a URL path starting with "/", got "${path.slice(0, 64)}"`);
      }
      listeners.container = await startListener({
        name: 'container',
        host: opts.str('container-address') ?? '127.0.0.1',
        port: port('container-port', 9912),
        allowNonLoopback: allowNonLoopback('container'),
        credentialGuard,
        logger,
        metrics,
        handler: containerRouter(
          roles.length === 1 && configured === undefined
            ? [[path, createContainerHandler({ view, path, token: containerToken, clock: io.clock, logger })]]
            : [
                // The default role at the usual path, and every role at /roles/<name>.
                [path, createContainerHandler({ view, path, token: containerToken, clock: io.clock, logger })],
                ...roles.map((r): [string, RequestHandler] => [
                  `/roles/${r.name}`,
                  createContainerHandler({ view: viewOf(r.pipeline.refresher), path: `/roles/${r.name}`, token: containerToken!, clock: io.clock, logger }),
                ]),
              ],
        ),
      });
      clientEnv.push(['AWS_CONTAINER_CREDENTIALS_FULL_URI', new URL(path, listeners.container.url).href]);
      if (configured !== undefined) {
        for (const r of roles)
          roleEndpoints.push({
            role: r.name,
            variable: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
            value: new URL(`/roles/${r.name}`, listeners.container.url).href,
          });
      }
      let tokenFile = opts.str('container-token-file');
      if (tokenFile === undefined && overrides.tokenInEnvOnly !== true) {
        const dir = await mkdtemp(join(tmpdir(), 'rolesanywhere-sidecar-'));
        tokenFile = join(dir, 'token');
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
      }
      if (tokenFile !== undefined) {
        // No trailing newline: botocore >= 1.32, Go and Rust reject one (docs/sdk-endpoints.md).
        await writeSecretFile(tokenFile, containerToken, io.random);
        clientEnv.push(['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', tokenFile]);
      }
    }
    if (!opts.bool('no-ops')) {
      listeners.ops = await startListener({
        name: 'ops',
        host: opts.str('ops-address') ?? '127.0.0.1',
        port: port('ops-port', 9913),
        allowNonLoopback: allowNonLoopback('ops'),
        logger,
        metrics,
        handler: createOpsHandler({
          registry,
          logger,
          readiness: () =>
            readinessOf(roles.map((r) => ({ ...(configured === undefined ? {} : { name: `role ${r.name}` }), status: r.pipeline.refresher.status() }))),
        }),
      });
    }
    if (opts.environment.proxy.anySet) {
      // botocore sends IMDS and container calls through proxies from the environment.
      const existing = (opts.environment.proxy.noProxy ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const merged = [...new Set([...existing, '127.0.0.1', 'localhost', '::1'])];
      clientEnv.push(['NO_PROXY', merged.join(',')]);
    }
  } catch (e) {
    await stopAll(0);
    throw e;
  }

  for (const r of roles) r.pipeline.start();
  sharedIdentity?.start();
  const identity = pipeline.identity();
  logger.info('sidecar started', {
    endpoint: session.endpointUrl.href,
    region: session.region,
    roleArn: session.params.roleArn,
    ...(configured !== undefined ? { roles: roles.map((r) => ({ name: r.name, servedRoleArn: r.pipeline.servedRoleArn, default: r.isDefault })) } : {}),
    ...(pipeline.chain !== undefined ? { assumeRoleArn: pipeline.chain.options.roleArn, stsEndpoint: pipeline.chain.endpoint.url.origin } : {}),
    certificateSerial: identity.serialDecimal,
    certificateNotAfter: new Date(identity.notAfter).toISOString(),
    keyType: identity.signer.description,
    listeners: Object.fromEntries(Object.entries(listeners).map(([k, l]) => [k, l.url.href])),
  });

  return {
    clientEnv,
    ...(containerToken !== undefined ? { containerToken } : {}),
    refresher,
    metrics,
    logger,
    listeners,
    identity: pipeline.identity,
    reloadIdentity: async () => {
      await sharedIdentity?.reload();
      for (const r of roles) await r.pipeline.reloadIdentity();
    },
    roleEndpoints,
    roles: roles.map((r) => ({ name: r.name, refresher: r.pipeline.refresher })),
    stop: stopAll,
  };
}

/** --allowed-host values (repeatable, comma-separated), checked and normalised. */
function parseAllowedHosts(opts: Options): string[] {
  const raw = opts.str('allowed-host');
  if (raw === undefined) return [];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length > 64) throw new SidecarError('CONFIG_INVALID', `${opts.origin('allowed-host')} names ${names.length} hosts; at most 64 are accepted`);
  return names.map((n) => {
    const h = normaliseAllowedHost(n);
    if (h === undefined)
      throw new SidecarError('CONFIG_INVALID', `${opts.origin('allowed-host')} value "${n.slice(0, 64)}" is not a host name (no port, no scheme)`);
    return h;
  });
}
