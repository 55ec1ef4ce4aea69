/**
 * The emulator's HTTP(S) server: IAM Roles Anywhere CreateSession (`POST /sessions`), STS
 * GetCallerIdentity and AssumeRole (`/`), and, only when asked for, an admin API for out-of-process tests
 * (`/__emulator/...`). Verification is the pure verifier; this file is the I/O around it.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import { SidecarError, oneLine } from '../core/errors.js';
import { nullLogger, type Logger } from '../core/logger.js';
import { validateEmulatorConfig, type EmulatorConfig } from './config.js';
import { validateStsRoles, type StsRole, type StsSettings } from './assume-role.js';
import { Faults, validateFault, type FaultController, type FaultPlan, type FaultState } from './faults.js';
import { IssuedStore, issueSession, randomUuid, type IssuedRecord } from './issuer.js';
import { authenticateAdmin, type AdminCredentials } from './control/auth.js';
import { MAX_CONTROL_BODY_BYTES, handleControlRequest, isControlPath, type ControlResponse } from './control/api.js';
import type { ControlPlaneError } from './control/errors.js';
import { ControlPlaneStore } from './control/store.js';
import { handleSts } from './sts.js';
import { MAX_BODY_BYTES, verifyCreateSession, type ReceivedRequest } from './verifier.js';

export interface StartEmulatorOptions {
  readonly config: EmulatorConfig;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port; read it from `url`). */
  readonly port?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  readonly faults?: FaultPlan;
  /**
   * Enables `/__emulator/faults`, `/__emulator/stats` and `/__emulator/issued`, for tests
   * that drive the emulator from another process. Off by default: anyone who can reach the
   * port could otherwise script failures or list issued sessions.
   */
  readonly adminApi?: boolean;
  /** How many issued sessions STS remembers (oldest forgotten first). Default 10,000. */
  readonly issuedCapacity?: number;
  /**
   * The Roles Anywhere state CreateSession reads and the control plane changes. Default: a
   * store holding `config`'s trust anchors and profiles.
   */
  readonly store?: ControlPlaneStore;
  /**
   * Serves the Roles Anywhere control plane (CreateTrustAnchor, ImportCrl, ...) to requests
   * SigV4-signed with this key pair. Without it those paths answer 404.
   */
  readonly adminCredentials?: AdminCredentials;
  /** Roles STS AssumeRole hands out (trust policies), disabled regions; changeable through the admin API. */
  readonly sts?: StsSettings;
}

export interface EmulatorStats {
  readonly createSession: { total: number; ok: number; rejected: number; faulted: number };
  readonly sts: { total: number; ok: number; rejected: number };
  readonly assumeRole: { total: number; ok: number; rejected: number };
}

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing path). */
  readonly url: URL;
  readonly config: EmulatorConfig;
  /** The live state (trust anchors, profiles, CRLs, subjects). */
  readonly store: ControlPlaneStore;
  readonly faults: FaultController;
  /** STS roles, disabled regions and outage: read and replace (the admin API does the same over HTTP). */
  stsSettings(): StsSettings;
  setStsSettings(next: Partial<StsSettings>): StsSettings;
  stats(): EmulatorStats;
  /** Sessions issued so far (no secrets), oldest first. */
  issued(): readonly IssuedRecord[];
  /** Closes the listener and every open connection; pending delays are cut short. Idempotent. */
  stop(): Promise<void>;
}

/** Headers are a few KiB even with a long chain; Node's default 16 KiB is too tight for RSA-4096 chains. */
const MAX_HEADER_BYTES = 64 * 1024;
const ADMIN_PREFIX = '/__emulator/';

type Body = { ok: true; bytes: Buffer } | { ok: false };

function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        resolve({ ok: false });
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve({ ok: true, bytes: Buffer.concat(chunks) });
      }
    });
    req.on('error', () => {
      if (!done) {
        done = true;
        resolve({ ok: false });
      }
    });
  });
}

function rawHeaderPairs(req: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return out;
}

function send(res: ServerResponse, status: number, headers: Readonly<Record<string, string>>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body, 'utf8')) });
  res.end(body);
}

function sendJsonError(res: ServerResponse, status: number, errorType: string, message: string, requestId: string, close = false): void {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-amzn-errortype': errorType,
    'x-amzn-requestid': requestId,
  };
  if (close) headers.connection = 'close';
  send(res, status, headers, JSON.stringify({ message }));
}

export async function startEmulator(opts: StartEmulatorOptions): Promise<RunningEmulator> {
  const config = opts.config;
  validateEmulatorConfig(config);
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? systemRandom;
  const log = (opts.logger ?? nullLogger).child({ component: 'emulator' });
  const faults = new Faults(opts.faults ?? {});
  const store = new IssuedStore(opts.issuedCapacity ?? 10_000);
  const state = opts.store ?? ControlPlaneStore.fromConfig(config, { clock, random });
  const stopping = new AbortController();
  const stats = {
    createSession: { total: 0, ok: 0, rejected: 0, faulted: 0 },
    sts: { total: 0, ok: 0, rejected: 0 },
    assumeRole: { total: 0, ok: 0, rejected: 0 },
  };
  const partition = config.partition ?? 'aws';
  let stsSettings: StsSettings = { roles: [] };
  const setStsSettings = (next: Partial<StsSettings>): StsSettings => {
    const merged: StsSettings = { ...stsSettings, ...next };
    validateStsRoles(merged.roles, partition);
    for (const r of merged.disabledRegions ?? []) {
      if (!/^[a-z]{2,8}(-[a-z0-9]+)+-\d{1,3}$/.test(r))
        throw new SidecarError('CONFIG_INVALID', `disabled STS region "${oneLine(r, 40)}" is not a region name`);
    }
    stsSettings = merged;
    return stsSettings;
  };
  if (opts.sts !== undefined) setStsSettings(opts.sts);

  async function createSession(req: IncomingMessage, res: ServerResponse, r: ReceivedRequest, rid: string): Promise<void> {
    stats.createSession.total++;
    const decision = faults.decide(clock.now());
    if (decision.delayMs > 0) {
      try {
        await sleep(decision.delayMs, undefined, { signal: stopping.signal });
      } catch {
        req.socket.destroy();
        return;
      }
    }
    if (decision.action === 'drop') {
      stats.createSession.faulted++;
      log.info('CreateSession fault: connection dropped', { requestId: rid });
      req.socket.destroy();
      return;
    }
    if (decision.action === 'respond') {
      stats.createSession.faulted++;
      log.info('CreateSession fault: scripted answer', { requestId: rid, status: decision.status });
      send(res, decision.status, { ...decision.headers, 'x-amzn-requestid': rid }, decision.body);
      return;
    }
    const now = clock.now();
    const world = state.view();
    const v = verifyCreateSession(r, world, now);
    if (!v.ok) {
      stats.createSession.rejected++;
      log.info('CreateSession rejected', { requestId: rid, status: v.status, errorType: v.errorType, reason: v.message });
      sendJsonError(res, v.status, v.errorType, v.message, rid);
      return;
    }
    const issued = issueSession(v, world, now, random);
    store.add(issued.secret);
    state.recordSubject(v.params.trustAnchorArn, v.leaf, now);
    stats.createSession.ok++;
    log.info('CreateSession issued credentials', {
      requestId: rid,
      accessKeyId: issued.secret.accessKeyId,
      roleArn: v.params.roleArn,
      serial: v.serialDecimal,
      expiration: new Date(issued.secret.expiration).toISOString(),
    });
    send(res, 201, { 'content-type': 'application/json', 'x-amzn-requestid': rid }, issued.body);
  }

  async function sts(res: ServerResponse, r: ReceivedRequest, rid: string): Promise<void> {
    stats.sts.total++;
    const out = await handleSts(r, {
      store,
      nowMs: clock.now(),
      requestId: rid,
      random,
      settings: stsSettings,
      partition,
      ...(config.credentialLifetimeSeconds !== undefined ? { credentialLifetimeSeconds: config.credentialLifetimeSeconds } : {}),
      ...(config.maxClockSkewMs !== undefined ? { maxClockSkewMs: config.maxClockSkewMs } : {}),
    });
    if (out.ok) stats.sts.ok++;
    else stats.sts.rejected++;
    if (out.action === 'AssumeRole') {
      stats.assumeRole.total++;
      if (out.ok) stats.assumeRole.ok++;
      else stats.assumeRole.rejected++;
    }
    const action = out.action ?? 'STS request';
    log.info(out.ok ? `${action} answered` : `${action} rejected`, {
      requestId: rid,
      status: out.status,
      code: out.code,
      accessKeyId: out.accessKeyId,
      ...(out.issued !== undefined
        ? {
            issuedAccessKeyId: out.issued.accessKeyId,
            roleArn: out.issued.roleArn,
            sessionName: out.issued.sessionName,
            expiration: new Date(out.issued.expiration).toISOString(),
          }
        : {}),
    });
    send(res, out.status, out.headers, out.body);
  }

  async function controlPlane(res: ServerResponse, r: ReceivedRequest, rid: string, admin: AdminCredentials): Promise<void> {
    const denied: ControlPlaneError | undefined = await authenticateAdmin(r, {
      credentials: admin,
      region: config.region,
      nowMs: clock.now(),
      ...(config.maxClockSkewMs !== undefined ? { maxClockSkewMs: config.maxClockSkewMs } : {}),
    });
    const out: ControlResponse =
      denied !== undefined
        ? { status: denied.status, body: { message: denied.message }, operation: 'Authenticate', errorType: denied.errorType }
        : await handleControlRequest(r, state);
    log.info(out.errorType === undefined ? 'control plane request answered' : 'control plane request refused', {
      requestId: rid,
      operation: out.operation,
      status: out.status,
      errorType: out.errorType,
      ...(out.errorType !== undefined ? { reason: (out.body as { message?: string }).message } : {}),
    });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-requestid': rid,
      // The emulator's clock, not the host's: what `doctor` compares the caller's clock with.
      date: new Date(clock.now()).toUTCString(),
    };
    if (out.errorType !== undefined) headers['x-amzn-errortype'] = out.errorType;
    send(res, out.status, headers, JSON.stringify(out.body));
  }

  function admin(res: ServerResponse, method: string, path: string, body: Buffer, rid: string): void {
    const json = (status: number, v: unknown): void => send(res, status, { 'content-type': 'application/json' }, JSON.stringify(v));
    if (path === '/__emulator/stats' && method === 'GET') return json(200, { ...snapshot(), faults: faults.state() });
    if (path === '/__emulator/issued' && method === 'GET') return json(200, store.records());
    if (path === '/__emulator/faults' && method === 'GET') return json(200, faults.state());
    if (path === '/__emulator/sts' && method === 'GET') return json(200, stsSettings);
    if (path === '/__emulator/sts' && method === 'POST') {
      try {
        setStsSettings(parseAdminSts(body));
      } catch (e) {
        return json(400, { message: e instanceof SidecarError ? e.message : oneLine(String(e)) });
      }
      return json(200, stsSettings);
    }
    if (path === '/__emulator/faults' && method === 'POST') {
      try {
        applyAdminFaults(faults, body);
      } catch (e) {
        return json(400, { message: e instanceof SidecarError ? e.message : oneLine(String(e)) });
      }
      return json(200, faults.state());
    }
    sendJsonError(res, 404, 'UnknownOperationException', `no admin operation ${method} ${path}`, rid);
  }

  function snapshot(): EmulatorStats {
    return { createSession: { ...stats.createSession }, sts: { ...stats.sts }, assumeRole: { ...stats.assumeRole } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rid = randomUuid(random);
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';
    const isAdmin = opts.adminApi === true && path.startsWith(ADMIN_PREFIX);
    const isControl = opts.adminCredentials !== undefined && !isAdmin && path !== '/sessions' && path !== '/' && isControlPath(path);
    if (path !== '/sessions' && path !== '/' && !isAdmin && !isControl) {
      req.resume();
      sendJsonError(
        res,
        404,
        'UnknownOperationException',
        `no operation at ${oneLine(path, 80)}: the emulator serves POST /sessions (CreateSession) and / (STS GetCallerIdentity)`,
        rid,
      );
      return;
    }
    const limit = isControl ? MAX_CONTROL_BODY_BYTES : MAX_BODY_BYTES;
    const body = await readBody(req, limit);
    if (!body.ok) {
      sendJsonError(res, 400, 'ValidationException', `the request body is larger than ${limit} bytes (or was cut off)`, rid, true);
      return;
    }
    if (isAdmin) return admin(res, method, path, body.bytes, rid);
    const r: ReceivedRequest = { method, path, rawQuery, headers: rawHeaderPairs(req), body: body.bytes };
    if (isControl) return controlPlane(res, r, rid, opts.adminCredentials);
    if (path === '/sessions') return createSession(req, res, r, rid);
    return sts(res, r, rid);
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => {
      log.error('emulator request failed', { error: oneLine(e instanceof Error ? e.message : String(e)) });
      sendJsonError(res, 500, 'InternalServerException', 'the emulator failed to handle the request', 'internal');
    });
  };
  const serverOptions = { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 60_000, headersTimeout: 30_000 };
  const server: Server =
    opts.tls !== undefined
      ? createHttpsServer({ ...serverOptions, cert: opts.tls.certPem, key: opts.tls.keyPem, minVersion: 'TLSv1.2' }, listener)
      : createHttpServer(serverOptions, listener);

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (e.code === 'EADDRINUSE') {
        reject(
          new SidecarError(
            'ADDRESS_IN_USE',
            `the emulator cannot listen on ${host}:${opts.port ?? 0}: the address is in use; pick another --port (0 picks a free one)`,
            { cause: e },
          ),
        );
      } else {
        reject(new SidecarError('INTERNAL', `the emulator cannot listen on ${host}:${opts.port ?? 0}: ${oneLine(e.message)}`, { cause: e }));
      }
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(opts.port ?? 0, host);
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = new URL(`${opts.tls !== undefined ? 'https' : 'http'}://${urlHost}:${addr.port}`);
  log.info('emulator listening', { url: url.origin, region: config.region, accountId: config.accountId, adminApi: opts.adminApi === true });

  let stopped: Promise<void> | undefined;
  return {
    url,
    config,
    store: state,
    faults,
    stsSettings: () => stsSettings,
    setStsSettings,
    stats: snapshot,
    issued: () => store.records(),
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

/**
 * Admin body: `{"clear":true, "outage":false, "throttlePerSecond":null, "faults":[...]}`,
 * every field optional; `clear` is applied first.
 */
function applyAdminFaults(faults: FaultController, body: Buffer): FaultState {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new SidecarError('CONFIG_INVALID', 'the admin request body is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SidecarError('CONFIG_INVALID', 'the admin request body must be an object such as {"faults":[{"status":503}]}');
  }
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['clear', 'outage', 'throttlePerSecond', 'faults'].includes(k)) {
      throw new SidecarError('CONFIG_INVALID', `unknown admin field "${oneLine(k, 40)}": use clear, outage, throttlePerSecond, faults`);
    }
  }
  if (o.clear !== undefined && typeof o.clear !== 'boolean') throw new SidecarError('CONFIG_INVALID', 'clear must be true or false');
  if (o.outage !== undefined && typeof o.outage !== 'boolean') throw new SidecarError('CONFIG_INVALID', 'outage must be true or false');
  if (o.throttlePerSecond !== undefined && o.throttlePerSecond !== null && typeof o.throttlePerSecond !== 'number') {
    throw new SidecarError('CONFIG_INVALID', 'throttlePerSecond must be a number of calls per second, or null to switch throttling off');
  }
  if (o.faults !== undefined && !Array.isArray(o.faults)) throw new SidecarError('CONFIG_INVALID', 'faults must be an array');
  const list = ((o.faults as unknown[] | undefined) ?? []).map((f, i) => validateFault(f, `faults[${i}]`));
  if (o.clear === true) faults.clear();
  if (typeof o.outage === 'boolean') faults.setOutage(o.outage);
  if (o.throttlePerSecond !== undefined) faults.setThrottle(o.throttlePerSecond === null ? undefined : o.throttlePerSecond);
  if (list.length > 0) faults.enqueue(...list);
  return faults.state();
}

/**
 * Admin body for `/__emulator/sts`: `{"roles":[{"arn":..., "trustedPrincipals":[...],
 * "externalId":..., "maxSessionDurationSeconds":...}], "disabledRegions":[...], "outage":false}`,
 * every field optional; a given field replaces the current one.
 */
function parseAdminSts(body: Buffer): Partial<StsSettings> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new SidecarError('CONFIG_INVALID', 'the admin request body is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new SidecarError('CONFIG_INVALID', 'the admin request body must be an object such as {"roles":[...]}');
  const o = doc as Record<string, unknown>;
  const out: { roles?: StsRole[]; disabledRegions?: string[]; outage?: boolean } = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'outage') {
      if (typeof v !== 'boolean') throw new SidecarError('CONFIG_INVALID', 'outage must be true or false');
      out.outage = v;
    } else if (k === 'disabledRegions') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
        throw new SidecarError('CONFIG_INVALID', 'disabledRegions must be a list of region names');
      out.disabledRegions = v;
    } else if (k === 'roles') {
      if (!Array.isArray(v)) throw new SidecarError('CONFIG_INVALID', 'roles must be a list');
      out.roles = v.map((r: unknown, i) => {
        if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new SidecarError('CONFIG_INVALID', `roles[${i}] must be an object`);
        const x = r as Record<string, unknown>;
        for (const f of Object.keys(x)) {
          if (!['arn', 'trustedPrincipals', 'externalId', 'maxSessionDurationSeconds'].includes(f)) {
            throw new SidecarError(
              'CONFIG_INVALID',
              `roles[${i}] has an unknown field "${oneLine(f, 40)}": use arn, trustedPrincipals, externalId, maxSessionDurationSeconds`,
            );
          }
        }
        if (typeof x.arn !== 'string') throw new SidecarError('CONFIG_INVALID', `roles[${i}].arn must be a role ARN`);
        if (!Array.isArray(x.trustedPrincipals) || !x.trustedPrincipals.every((t) => typeof t === 'string')) {
          throw new SidecarError('CONFIG_INVALID', `roles[${i}].trustedPrincipals must be a list of ARNs`);
        }
        if (x.externalId !== undefined && typeof x.externalId !== 'string') throw new SidecarError('CONFIG_INVALID', `roles[${i}].externalId must be a string`);
        if (x.maxSessionDurationSeconds !== undefined && typeof x.maxSessionDurationSeconds !== 'number') {
          throw new SidecarError('CONFIG_INVALID', `roles[${i}].maxSessionDurationSeconds must be a number`);
        }
        return {
          arn: x.arn,
          trustedPrincipals: x.trustedPrincipals,
          ...(x.externalId !== undefined ? { externalId: x.externalId } : {}),
          ...(x.maxSessionDurationSeconds !== undefined ? { maxSessionDurationSeconds: x.maxSessionDurationSeconds } : {}),
        };
      });
    } else throw new SidecarError('CONFIG_INVALID', `unknown admin field "${oneLine(k, 40)}": use roles, disabledRegions, outage`);
  }
  return out;
}
