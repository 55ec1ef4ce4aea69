import type { OutgoingHttpHeaders } from 'node:http';
import type { Registry } from 'prom-client';
import { nullLogger, type Logger } from '../core/logger.js';
import { JSON_TYPE, TEXT, requestPath, send, textBody, type RequestHandler } from './http-util.js';

/**
 * Probes and metrics, on their own listener so a kubelet or Prometheus can reach them
 * (possibly on a non-loopback address) without reaching credentials.
 *  - `GET /healthz`: 200 `ok` while the process serves at all (liveness);
 *  - `GET /readyz`: 200 when servable credentials are held, else 503, both with a JSON body;
 *  - `GET /metrics`: Prometheus text exposition of `registry`.
 */
export interface OpsHandlerOptions {
  readiness: () => { ready: boolean; reason?: string };
  registry: Registry;
  logger?: Logger;
}

const PLAIN: OutgoingHttpHeaders = { 'content-type': TEXT, 'cache-control': 'no-store' };
const JSON_HEADERS: OutgoingHttpHeaders = { 'content-type': JSON_TYPE, 'cache-control': 'no-store' };
const OK = textBody('ok');
const NOT_FOUND = textBody('Not Found');
const NOT_ALLOWED = textBody('Method Not Allowed');
const READY = textBody(JSON.stringify({ status: 'ready' }));

export function createOpsHandler(opts: OpsHandlerOptions): RequestHandler {
  const logger = opts.logger ?? nullLogger;
  const { registry } = opts;
  return (req, res) => {
    const path = requestPath(req.url);
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return send(res, 404, PLAIN, NOT_FOUND);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { ...PLAIN, allow: 'GET, HEAD' }, NOT_ALLOWED);
    if (path === '/healthz') return send(res, 200, PLAIN, OK);
    if (path === '/readyz') {
      const r = opts.readiness();
      if (r.ready) return send(res, 200, JSON_HEADERS, READY);
      const body = JSON.stringify({ status: 'not ready', reason: (r.reason ?? 'not ready').slice(0, 500) });
      return send(res, 503, JSON_HEADERS, Buffer.from(body, 'utf8'));
    }
    registry.metrics().then(
      (text) => send(res, 200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }, Buffer.from(text, 'utf8')),
      (e: unknown) => {
        logger.error('cannot render metrics', { err: e });
        if (!res.headersSent) send(res, 500, PLAIN, textBody('metrics unavailable'));
        else res.destroy();
      },
    );
  };
}
