import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isoSeconds, systemClock, type Clock } from '../core/clock.js';
import { isUsable, type Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import { nullLogger, type Logger } from '../core/logger.js';
import { JSON_TYPE, requestPath, send, type RequestHandler } from './http-util.js';
import { sha256Base64 } from './digest.js';
import { validateContainerToken } from './token.js';
import { unavailableMessage, type CredentialView } from './view.js';

/**
 * The ECS container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI plus
 * AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]), which the official helper lacks (#40).
 *
 *  - other paths: 404; other methods: 405;
 *  - no `Authorization`: 401; a wrong one: 403. The header value is compared whole (SDKs
 *    send the token with no `Bearer` prefix), as SHA-256 digests with timingSafeEqual so
 *    neither content nor length leaks through timing; a keep-alive connection
 *    accepted once is not hashed again while it sends the same value;
 *  - no servable credentials: 503, which SDKs treat as transient and retry;
 *  - errors carry both `code`/`message` (Go reads these) and `Code`/`Message` (JS reads these).
 */
export interface ContainerHandlerOptions {
  view: CredentialView;
  /** The credentials path, e.g. `/credentials`; matched exactly, query string ignored. */
  path: string;
  /** Expected `Authorization` header value. */
  token: string;
  clock?: Clock;
  logger?: Logger;
}

const HEADERS: OutgoingHttpHeaders = { 'content-type': JSON_TYPE };

function errorBody(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ code, message, Code: code, Message: message }), 'utf8');
}

const NOT_FOUND = errorBody('NotFound', 'no such path on the container credentials endpoint; use the URL in AWS_CONTAINER_CREDENTIALS_FULL_URI');
const NOT_ALLOWED = errorBody('MethodNotAllowed', 'only GET is supported');
const MISSING_TOKEN = errorBody(
  'Unauthorized',
  'missing Authorization header; set AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the sidecar token',
);
const WRONG_TOKEN = errorBody(
  'AccessDenied',
  'wrong Authorization token; use the token the sidecar wrote to its --container-token-file (or ROLESANYWHERE_CONTAINER_TOKEN)',
);
const UNAVAILABLE_TEXT = 'the sidecar holds no valid credentials yet (CreateSession has not succeeded); retry shortly and see the sidecar log';
const UNAVAILABLE = errorBody('CredentialsUnavailable', UNAVAILABLE_TEXT);

/** SHA-256 of the header value (base64, as Latin-1 bytes for timingSafeEqual). */
const digest = (s: string): Buffer => Buffer.from(sha256Base64(s), 'latin1');

/** The Authorization value a connection was accepted with, and by which handler (its expected digest). */
const AUTHORIZED = Symbol('containerAuthorized');
type AuthorizedSocket = Socket & { [AUTHORIZED]?: { readonly by: Buffer; readonly value: string } };

interface Cached {
  generation: number;
  creds: Credentials;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export function createContainerHandler(opts: ContainerHandlerOptions): RequestHandler {
  const { view } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? nullLogger;
  validateContainerToken(opts.token);
  const expected = digest(opts.token);
  const path = requestPath(opts.path);
  if (path === undefined || path !== opts.path || path === '/') {
    throw new SidecarError(
      'CONFIG_INVALID',
      `container credentials path ${JSON.stringify(opts.path.slice(0, 64))} is not a plain absolute path; set --container-path to e.g. /credentials (no query, no '//')`,
    );
  }
  let cache: Cached | undefined;

  const bodyFor = (creds: Credentials): Cached => {
    const generation = view.generation;
    if (cache !== undefined && cache.generation === generation && cache.creds === creds) return cache;
    const doc: Record<string, string> = {
      AccessKeyId: creds.accessKeyId,
      SecretAccessKey: creds.secretAccessKey,
      Token: creds.sessionToken,
      Expiration: isoSeconds(creds.expiration),
    };
    if (creds.accountId !== undefined) doc.AccountId = creds.accountId;
    if (creds.roleArn !== undefined) doc.RoleArn = creds.roleArn;
    const body = Buffer.from(JSON.stringify(doc), 'utf8');
    cache = {
      generation,
      creds,
      body,
      headers: { 'content-type': JSON_TYPE, 'content-length': body.length, 'cache-control': 'no-store' },
    };
    return cache;
  };

  const checkToken = (req: IncomingMessage, res: ServerResponse): boolean => {
    const auth = req.headers.authorization;
    if (auth === undefined || auth.length === 0) {
      send(res, 401, HEADERS, MISSING_TOKEN);
      return false;
    }
    // A keep-alive connection that was already let in with this exact header value skips
    // the digest (the costliest step of a request). Comparing against a value this same
    // connection sent before reveals nothing its client does not already know.
    const socket = req.socket as AuthorizedSocket;
    const known = socket[AUTHORIZED];
    if (known !== undefined && known.by === expected && known.value === auth) return true;
    if (!timingSafeEqual(digest(auth), expected)) {
      logger.warn('refused a container credentials request with a wrong Authorization token', {
        remoteAddress: req.socket.remoteAddress,
      });
      send(res, 403, HEADERS, WRONG_TOKEN);
      return false;
    }
    socket[AUTHORIZED] = { by: expected, value: auth };
    return true;
  };

  return (req, res) => {
    if (requestPath(req.url) !== path) return send(res, 404, HEADERS, NOT_FOUND);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { ...HEADERS, allow: 'GET, HEAD' }, NOT_ALLOWED);
    if (!checkToken(req, res)) return;
    const creds = view.current();
    if (!isUsable(creds, clock.now())) {
      logger.debug('container credentials requested while none are servable');
      const why = unavailableMessage(view, UNAVAILABLE_TEXT);
      return send(res, 503, { ...HEADERS, 'retry-after': '1' }, why.message === UNAVAILABLE_TEXT ? UNAVAILABLE : errorBody(why.code, why.message));
    }
    const c = bodyFor(creds);
    res.writeHead(200, c.headers);
    res.end(c.body);
  };
}
