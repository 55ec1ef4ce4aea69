import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** What every endpoint factory returns: a plain node:http request listener that never throws. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Longest request path considered; anything longer cannot name one of our resources. */
const MAX_PATH_LENGTH = 2048;

/**
 * The request path with query and fragment dropped and runs of slashes collapsed, or
 * undefined when there is none. Repeated slashes are expected, not an attack: JS v2 and
 * Java join `<endpoint>/latest/...` onto the endpoint printed with a trailing slash, so they
 * send `//latest/api/token`, while AWS CLI 2.9 needs that trailing slash (docs/sdk-endpoints.md).
 * Absolute-form targets (`GET http://127.0.0.1:9911/latest/...`, from clients that think they
 * talk to a proxy) are reduced to their path.
 */
export function requestPath(url: string | undefined): string | undefined {
  if (url === undefined || url.length === 0 || url.length > MAX_PATH_LENGTH) return undefined;
  let path: string;
  if (url.charCodeAt(0) === 0x2f /* / */) {
    // indexOf, not a regex: this runs on every request.
    const q = url.indexOf('?');
    const h = url.indexOf('#');
    const end = q === -1 ? h : h === -1 ? q : Math.min(q, h);
    path = end === -1 ? url : url.slice(0, end);
  } else if (/^https?:\/\//i.test(url)) {
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  } else {
    return undefined;
  }
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

/** Sends a complete response; `body` may be precomputed bytes shared across requests. */
export function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': body.length });
  res.end(body);
}

export const TEXT = 'text/plain; charset=utf-8';
export const JSON_TYPE = 'application/json';

/** Short constant plain-text bodies for errors, built once. */
export function textBody(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}
