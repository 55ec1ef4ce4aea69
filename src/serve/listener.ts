import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import { SidecarError, toSidecarError } from '../core/errors.js';
import { nullLogger, type Logger } from '../core/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { TEXT, requestPath, send, textBody, type RequestHandler } from './http-util.js';
import { guardCredentialRequest, type RequestGuardOptions } from './request-guard.js';

/**
 * One HTTP listener (IMDS, container or ops) with the timeouts and size limits the official
 * helper lacked (#176): slow or oversized clients are cut off, a handler's bug answers 500
 * instead of crashing the process, and close() drains in-flight requests within a grace
 * period. Non-loopback addresses need an explicit opt-in, because whoever can reach the
 * port can read the credentials.
 */
export interface ListenerLimits {
  /** Time to receive the request headers (slowloris guard). */
  headersTimeoutMs: number;
  /** Time to receive the whole request. */
  requestTimeoutMs: number;
  /** Idle time before a keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** Request line plus headers, bytes. SDK requests are a few hundred bytes. */
  maxHeaderSize: number;
  /** Request body bytes accepted; our endpoints take none (413 beyond). */
  maxBodyBytes: number;
  /** Requests served per connection before it is closed, so no client pins one forever. */
  maxRequestsPerSocket: number;
  /** Concurrent connections; more are refused by the kernel backlog and closed. */
  maxConnections: number;
}

export const defaultListenerLimits: Readonly<ListenerLimits> = Object.freeze({
  // Go's IMDS client gives up after a 500 ms header timeout and JS after 1 s, so a
  // legitimate client never needs more than a few seconds.
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 8 * 1024,
  maxBodyBytes: 1024,
  maxRequestsPerSocket: 1_000,
  maxConnections: 1_024,
});

export interface ListenerOptions {
  /** `imds`, `container` or `ops`: names the listener in logs, errors and the `endpoint` metric label. */
  name: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Permit binding a non-loopback address (--<name>-allow-non-loopback or --allow-non-loopback). */
  allowNonLoopback?: boolean;
  /**
   * Serves credentials: requests are checked against DNS rebinding (`Host`) and browsers
   * (`Origin`, `Sec-Fetch-*`) before the handler runs, and a non-loopback bind is warned
   * about at start.
   */
  credentialGuard?: RequestGuardOptions;
  handler: RequestHandler;
  logger?: Logger;
  metrics?: Pick<Metrics, 'httpRequests'>;
  limits?: Partial<ListenerLimits>;
  /** Flags named in error messages; defaults follow the CLI for `imds`, `container` and `ops`. */
  flags?: { address: string; port: string };
}

export interface Listener {
  /** `http://host:port/`, IPv6 hosts in brackets. */
  readonly url: URL;
  /** The bound address (e.g. `127.0.0.1`, `::1`). */
  readonly host: string;
  readonly port: number;
  /**
   * Stops accepting, closes idle keep-alive connections, lets in-flight requests finish,
   * and force-closes whatever is left after `graceMs` (default 5000). Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

const FLAGS: Record<string, { address: string; port: string }> = {
  imds: { address: '--address', port: '--port' },
  container: { address: '--container-address', port: '--container-port' },
  ops: { address: '--ops-address', port: '--ops-port' },
};

/** True for 127.0.0.0/8, ::1, IPv4-mapped loopback and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = stripBrackets(host).toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  if (family === 0) return false;
  const loopback = new BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
  return loopback.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** `host:port` as a person would type it, IPv6 in brackets. */
function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const PAYLOAD_TOO_LARGE = textBody('Payload Too Large');
/** Requests seen on a connection, kept on the socket itself (no shared map to clean up). */
const SERVED = Symbol('requestsServed');
type CountedSocket = Socket & { [SERVED]?: number };
const INTERNAL = textBody('Internal Server Error');

export async function startListener(opts: ListenerOptions): Promise<Listener> {
  const { name, handler } = opts;
  const host = stripBrackets(opts.host);
  const port = opts.port;
  const logger = opts.logger ?? nullLogger;
  const limits: ListenerLimits = { ...defaultListenerLimits, ...opts.limits };
  const flags = opts.flags ?? FLAGS[name] ?? { address: '--address', port: '--port' };

  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SidecarError('CONFIG_INVALID', `${name} port ${String(port)} is not a TCP port; set ${flags.port} to 0..65535 (0 picks a free port)`);
  }
  if (host.length === 0) {
    throw new SidecarError('CONFIG_INVALID', `${name} address is empty; set ${flags.address} to e.g. 127.0.0.1`);
  }
  if (!isLoopbackHost(host) && opts.allowNonLoopback !== true) {
    throw new SidecarError(
      'ADDRESS_NOT_ALLOWED',
      `${name} address ${host} is not a loopback address and anyone who can reach it could read ${opts.credentialGuard !== undefined ? 'credentials' : 'its pages'}; use 127.0.0.1 or ::1, or pass --${name}-allow-non-loopback (this listener) or --allow-non-loopback (every listener) if that is intended`,
      { details: { listener: name, host } },
    );
  }

  const server = createServer({
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts above only this often (default 30 s, which would make a
    // 5 s headers timeout meaningless).
    connectionsCheckingInterval: Math.max(250, Math.min(1_000, limits.headersTimeoutMs)),
  });
  // Not server.maxRequestsPerSocket: past that limit Node sends `Connection: close` but keeps
  // the socket open and answers every later request on it with 503, so a client that
  // pipelines or ignores the header gets 5xx while credentials are valid. Counting here
  // and setting the header ourselves makes Node really close the socket after the answer.
  server.maxConnections = limits.maxConnections;
  // No endpoint takes a body, so `Expect: 100-continue` is answered with the final response
  // directly; Node's own 100 handling corrupts pipelined responses (found by the fuzz tests).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));

  let closing = false;
  const metrics = opts.metrics;

  const fail = (req: IncomingMessage, res: ServerResponse, e: unknown): void => {
    // Log the code and message only: the path has no query (which might carry a secret),
    // and no headers are logged (they carry tokens).
    logger.error('request handler failed', { listener: name, method: req.method, path: requestPath(req.url), err: toSidecarError(e) });
    if (!res.headersSent) {
      res.setHeader('connection', 'close');
      send(res, 500, { 'content-type': TEXT }, INTERNAL);
    } else {
      res.destroy();
    }
  };

  // One bound counter child per status seen (a handful): the label object is built and
  // validated once instead of on every request.
  const counters = new Map<number, { inc(): void }>();
  const count = (status: number): void => {
    if (metrics === undefined) return;
    let c = counters.get(status);
    if (c === undefined) {
      c = metrics.httpRequests.labels({ endpoint: name, status });
      counters.set(status, c);
    }
    c.inc();
  };
  const countOnFinish = function (this: ServerResponse): void {
    count(this.statusCode);
  };

  /**
   * Runs the handler, then counts the response. The credential handlers answer
   * synchronously, so the count is taken right away; only a handler still writing (the
   * metrics page) gets a 'finish' listener, which keeps the per-request cost of the hot
   * path to one counter update.
   */
  const guard = opts.credentialGuard;
  const invoke = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (guard !== undefined) {
        const verdict = guardCredentialRequest(req.headers, guard);
        if (!verdict.ok) {
          refused(req, res, verdict.reason);
          return;
        }
      }
      handler(req, res);
    } catch (e) {
      fail(req, res, e);
    }
    if (res.writableEnded) count(res.statusCode);
    else res.once('finish', countOnFinish);
  };

  // One warning per reason, so a probing client cannot flood the log.
  const refusedReasons = new Set<string>();
  const refused = (req: IncomingMessage, res: ServerResponse, reason: string): void => {
    if (!refusedReasons.has(reason) && refusedReasons.size < 32) {
      refusedReasons.add(reason);
      logger.warn('refused a credential request', { listener: name, method: req.method, path: requestPath(req.url), reason });
    }
    send(res, 403, { 'content-type': TEXT }, textBody(`Forbidden: ${reason}`));
    count(403);
  };

  const tooLarge = (res: ServerResponse): void => {
    res.setHeader('connection', 'close');
    send(res, 413, { 'content-type': TEXT }, PAYLOAD_TOO_LARGE);
    count(413);
  };

  // During shutdown a finished keep-alive connection is idle: close it now rather than
  // waiting out keepAliveTimeout.
  const closeIdleSoon = (): void => {
    setImmediate(() => server.closeIdleConnections());
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as CountedSocket;
    const served = (socket[SERVED] ?? 0) + 1;
    socket[SERVED] = served;
    if (closing) {
      res.setHeader('connection', 'close');
      res.once('finish', closeIdleSoon);
    } else if (served >= limits.maxRequestsPerSocket) {
      res.setHeader('connection', 'close');
    }
    const headers = req.headers;
    const length = headers['content-length'];
    if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) {
      invoke(req, res);
      return;
    }
    if (length !== undefined && Number(length) > limits.maxBodyBytes) {
      tooLarge(res);
      return;
    }
    // A body we do not use still has to be consumed (and bounded) before answering, or a
    // chunked upload could stream for the whole request timeout.
    let received = 0;
    let over = false;
    req.on('error', () => undefined);
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!over && received > limits.maxBodyBytes) {
        over = true;
        tooLarge(res);
      }
    });
    req.on('end', () => {
      if (!over) invoke(req, res);
    });
  });

  server.on('error', (e) => {
    logger.error('listener error', { listener: name, err: toSidecarError(e) });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(listenError(e, name, host, port, flags));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });

  const addr = server.address();
  if (addr === null || typeof addr === 'string') {
    server.close();
    throw new SidecarError('INTERNAL', `${name} listener bound to an unexpected address; report this as a bug`);
  }
  const url = new URL(`http://${hostPort(addr.address, addr.port)}/`);
  logger.debug('listening', { listener: name, url: url.href });
  if (guard !== undefined && !isLoopbackHost(host)) {
    logger.warn(`the ${name} credential listener is not on loopback: anyone who can reach ${url.host} can read credentials`, { listener: name, url: url.href });
  }

  let closed: Promise<void> | undefined;
  const close = (graceMs = 5_000): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      const force = setTimeout(() => {
        logger.warn('grace period over; closing remaining connections', { listener: name, graceMs });
        server.closeAllConnections();
      }, graceMs);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  };

  return { url, host: addr.address, port: addr.port, close };
}

function listenError(e: NodeJS.ErrnoException, name: string, host: string, port: number, flags: { address: string; port: string }): SidecarError {
  const where = hostPort(host, port);
  const details = { listener: name, host, port, errno: e.code };
  switch (e.code) {
    case 'EADDRINUSE':
      return new SidecarError(
        'ADDRESS_IN_USE',
        `${name} address ${where} is already in use (another sidecar or service?); stop it or choose another port with ${flags.port}`,
        { cause: e, details },
      );
    case 'EACCES':
      return new SidecarError(
        'CONFIG_INVALID',
        `permission denied binding ${name} to ${where} (ports below 1024 need privileges); choose a port of 1024 or more with ${flags.port}`,
        { cause: e, details },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SidecarError(
        'CONFIG_INVALID',
        `cannot bind ${name} to ${host}: no such address on this host; set ${flags.address} to a local address such as 127.0.0.1`,
        { cause: e, details },
      );
    default:
      return toSidecarError(e);
  }
}
