/**
 * The CreateSession transport for a direct connection: node:https (node:http for an
 * http:// endpoint such as a local emulator) with a keep-alive agent. It replaces undici on
 * the path most configurations take because undici costs about 250 ms and 16 MiB to load
 * (docs/benchmarks.md, "Start-up and memory"); undici stays for proxies (proxy-dispatcher.ts).
 *
 * The timeouts have undici's meaning, so both transports behave alike: connecting (TCP and
 * TLS), waiting for the response head after the request is written, and the idle time
 * between body chunks. Each failure carries a code the session client classifies.
 */
import http from 'node:http';
import https from 'node:https';
import { Transform, pipeline } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { SessionDispatcher, SessionRequest, SessionResponse } from './http.js';

/** Codes of the timeouts, for the client's classifier. */
export const CONNECT_TIMEOUT = 'SESSION_CONNECT_TIMEOUT';
export const HEADERS_TIMEOUT = 'SESSION_HEADERS_TIMEOUT';
export const BODY_TIMEOUT = 'SESSION_BODY_TIMEOUT';

export interface NodeDispatcherOptions {
  readonly secureContext: SecureContext;
  readonly rejectUnauthorized: boolean;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

class TransportTimeout extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransportTimeout';
  }
}

/** `[::1]` -> `::1`: node:net wants an IPv6 literal without brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export function createNodeDispatcher(o: NodeDispatcherOptions): SessionDispatcher {
  // `timeout` on the agent closes a kept-alive socket that has been idle this long; Node
  // also honours a shorter `Keep-Alive: timeout=` from the server.
  const agentOptions = { keepAlive: true, timeout: o.keepAliveTimeoutMs, maxSockets: 8, scheduling: 'lifo' as const };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  let inFlight = 0;
  let closing: (() => void) | undefined;
  const settle = () => {
    inFlight--;
    if (inFlight === 0) closing?.();
  };

  const request = (r: SessionRequest): Promise<SessionResponse> =>
    new Promise<SessionResponse>((resolve, reject) => {
      if (closing !== undefined) return reject(new Error('the CreateSession transport is closed'));
      if (r.signal?.aborted) return reject(r.signal.reason);
      const url = new URL(r.origin);
      const secure = url.protocol === 'https:';
      inFlight++;
      let settled = false;
      const done = () => {
        if (!settled) {
          settled = true;
          settle();
        }
      };
      let timer: NodeJS.Timeout | undefined;
      // Before the response head a timeout fails the request; after it, the body stream.
      let fail = (e: Error): void => void req.destroy(e);
      const arm = (ms: number, code: string, what: string) => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(new TransportTimeout(code, `${what} timed out after ${ms} ms`)), ms);
      };
      const disarm = () => clearTimeout(timer);
      const onAbort = () => fail(r.signal?.reason instanceof Error ? r.signal.reason : new Error('aborted'));
      r.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        disarm();
        r.signal?.removeEventListener('abort', onAbort);
        done();
      };
      const options: https.RequestOptions = {
        agent: secure ? agents.https : agents.http,
        host: hostOf(url),
        port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
        path: r.path,
        method: r.method,
        headers: { ...r.headers, ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}) },
        ...(secure ? { secureContext: o.secureContext, minVersion: 'TLSv1.2' as const, rejectUnauthorized: o.rejectUnauthorized } : {}),
      };
      const req = (secure ? https : http).request(options);
      arm(o.connectTimeoutMs, CONNECT_TIMEOUT, 'connecting');
      req.once('socket', (socket) => {
        const waiting = () => arm(o.headersTimeoutMs, HEADERS_TIMEOUT, 'waiting for the response');
        const connected = () => (req.writableFinished ? waiting() : req.once('finish', waiting));
        // A kept-alive socket is connected already; a new one signals TCP or TLS readiness.
        if (!socket.connecting) connected();
        else socket.once(secure ? 'secureConnect' : 'connect', connected);
      });
      req.on('error', (e) => {
        cleanup();
        reject(r.signal?.aborted ? r.signal.reason : e);
      });
      req.once('response', (res) => {
        arm(o.bodyTimeoutMs, BODY_TIMEOUT, 'reading the response');
        // Every chunk re-arms the idle timer, as undici's bodyTimeout does.
        const body = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            arm(o.bodyTimeoutMs, BODY_TIMEOUT, 'reading the response');
            cb(null, chunk);
          },
        });
        fail = (e) => {
          body.destroy(e);
          req.destroy(e);
        };
        pipeline(res, body, () => cleanup());
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body });
      });
      req.end(r.body);
    });

  return {
    request,
    close: () =>
      new Promise<void>((resolve) => {
        const finish = () => {
          agents.http.destroy();
          agents.https.destroy();
          resolve();
        };
        closing = finish;
        if (inFlight === 0) finish();
      }),
  };
}
