import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { isoSeconds, systemClock, type Clock, type Random } from '../core/clock.js';
import { isUsable, type Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import { nullLogger, type Logger } from '../core/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { JSON_TYPE, TEXT, requestPath, send, textBody, type RequestHandler } from './http-util.js';
import { IMDS_TOKEN_TTL_MAX, IMDS_TOKEN_TTL_MIN, ImdsTokenStore } from './imds-tokens.js';
import { unavailableMessage, type CredentialView } from './view.js';

/**
 * An IMDSv2-compatible endpoint serving one role's credentials, following every point of
 * docs/sdk-endpoints.md so that unmodified SDKs (botocore, AWS CLI, JS v2/v3, Go v2, Java v2,
 * Rust, .NET) read it with only AWS_EC2_METADATA_SERVICE_ENDPOINT set.
 *
 * Status rules, in the order they are applied:
 *  - unknown path: 404 (SDKs also probe e.g. placement/region; 404 tells them "not here");
 *  - known path, wrong method: 405;
 *  - `PUT /latest/api/token`: 403 with X-Forwarded-For (EC2's guard against proxied SSRF),
 *    400 on a missing or out-of-range TTL, else 200 with the token and the TTL echoed;
 *  - GET without `x-aws-ec2-metadata-token`: 401 unless IMDSv1 is enabled; with an unknown
 *    or expired token: 401 even when v1 is enabled (as EC2 does). This holds on the
 *    `-extended` paths too: "never 401 there" is about the resource, while 401 is the token
 *    protocol's "fetch a new token" signal, which Go, JS and Rust act on before any path
 *    logic (Go's token middleware retries the same request with a new token);
 *  - credentials path with no servable credentials: 503 with a JSON reason (SDKs retry or
 *    keep their cached credentials; the official helper answered `Success` with empty
 *    keys). On `security-credentials-extended/<role>` the answer is 404 instead: Go and Java
 *    fall back to the classic path only on 404, and that path then gives the 503.
 */
export interface ImdsHandlerOptions {
  view: CredentialView;
  /** The one role served; listed at `.../security-credentials/`. */
  roleName: string;
  /** Answer GETs that carry no token (IMDSv1). Off by default: Rust and .NET never need it. */
  allowV1?: boolean;
  /** Token store; default a new one on `clock` and `random` (pass one to share or inspect it). */
  tokens?: ImdsTokenStore;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  metrics?: Pick<Metrics, 'imdsTokens'>;
  /** Served as `AccountId` on the extended path when the credentials do not carry one. */
  accountId?: string;
  /**
   * `--serve-region`: answer the placement paths SDKs read their region from on EC2
   * (botocore and the AWS CLI: `placement/availability-zone`, minus the last letter; Go:
   * `placement/region`; Java: the instance identity document's `region`). The zone is
   * synthetic: the region plus `a`. Unset: those paths are 404, as before.
   */
  region?: string;
}

const TOKEN_PATH = '/latest/api/token';
const CREDS = '/latest/meta-data/iam/security-credentials';
const CREDS_EXT = '/latest/meta-data/iam/security-credentials-extended';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';

const PLAIN: OutgoingHttpHeaders = { 'content-type': TEXT };
const NOT_FOUND = textBody('Not Found');
const UNAUTHORIZED = textBody('Unauthorized');
const FORBIDDEN = textBody('Forbidden');
const BAD_TTL = textBody(`Bad Request: ${TTL_HEADER} must be an integer from ${IMDS_TOKEN_TTL_MIN} to ${IMDS_TOKEN_TTL_MAX}`);
const NOT_ALLOWED = textBody('Method Not Allowed');
const UNAVAILABLE_TEXT = 'the sidecar holds no valid credentials yet (CreateSession has not succeeded); retry shortly and see the sidecar log';
const UNAVAILABLE = Buffer.from(JSON.stringify({ Code: 'CredentialsUnavailable', Message: UNAVAILABLE_TEXT }), 'utf8');

/** A strict decimal in 1..21600: `+5`, `5.0`, ` 5`, `0x10` are all refused, as EC2 does. */
function parseTtl(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,4}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= IMDS_TOKEN_TTL_MIN && n <= IMDS_TOKEN_TTL_MAX ? n : undefined;
}

type Route =
  { kind: 'token' } | { kind: 'static'; body: Buffer; type: string } | { kind: 'list'; extended: boolean } | { kind: 'role'; extended: boolean; role: string };

// The longer prefix first: CREDS is a prefix of CREDS_EXT.
const PREFIXES = [
  [CREDS_EXT, true],
  [CREDS, false],
] as const;

const TOKEN_ROUTE: Route = { kind: 'token' };
const LIST_ROUTES = { true: { kind: 'list', extended: true }, false: { kind: 'list', extended: false } } as const;

function route(path: string): Route | undefined {
  if (path === TOKEN_PATH) return TOKEN_ROUTE;
  for (const [prefix, extended] of PREFIXES) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    if (rest === '' || rest === '/') return LIST_ROUTES[`${extended}`];
    if (rest.charCodeAt(0) !== 0x2f) return undefined;
    const role = rest.slice(1);
    return role.includes('/') ? undefined : { kind: 'role', extended, role };
  }
  return undefined;
}

const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The placement routes for `region` (with and without the trailing slash botocore sends). */
function placementRoutes(region: string | undefined): ReadonlyMap<string, Route> {
  const routes = new Map<string, Route>();
  if (region === undefined) return routes;
  if (!REGION_RE.test(region)) {
    throw new SidecarError('CONFIG_INVALID', `region ${JSON.stringify(region.slice(0, 64))} served by IMDS is not a region name such as us-east-1`);
  }
  const zone = `${region}a`;
  const text = (v: string): Route => ({ kind: 'static', body: textBody(v), type: TEXT });
  for (const [path, r] of [
    ['/latest/meta-data/placement/region', text(region)],
    ['/latest/meta-data/placement/availability-zone', text(zone)],
    [
      '/latest/dynamic/instance-identity/document',
      { kind: 'static', body: Buffer.from(JSON.stringify({ availabilityZone: zone, region }), 'utf8'), type: JSON_TYPE },
    ],
  ] as const) {
    routes.set(path, r);
    routes.set(`${path}/`, r);
  }
  return routes;
}

interface CachedBodies {
  generation: number;
  creds: Credentials;
  classicHeaders: OutgoingHttpHeaders;
  classic: Buffer;
  extendedHeaders: OutgoingHttpHeaders;
  extended: Buffer;
}

export function createImdsHandler(opts: ImdsHandlerOptions): RequestHandler {
  const { view } = opts;
  const clock = opts.clock ?? systemClock;
  const tokens = opts.tokens ?? new ImdsTokenStore({ clock, random: opts.random });
  const logger = opts.logger ?? nullLogger;
  const allowV1 = opts.allowV1 ?? false;
  const roleName = opts.roleName;
  if (roleName.length === 0 || roleName.includes('/')) {
    throw new SidecarError(
      'CONFIG_INVALID',
      `IMDS role name ${JSON.stringify(roleName.slice(0, 64))} cannot be served; set --role-name to the role's name (no '/')`,
    );
  }
  const roleBody = textBody(roleName);
  const roleHeaders: OutgoingHttpHeaders = { ...PLAIN, 'content-length': roleBody.length };
  // The paths every SDK asks for, routed by one string comparison instead of parsing.
  const classicRoute: Route = { kind: 'role', extended: false, role: roleName };
  const extendedRoute: Route = { kind: 'role', extended: true, role: roleName };
  const placement = placementRoutes(opts.region);
  const classicPath = `${CREDS}/${roleName}`;
  const extendedPath = `${CREDS_EXT}/${roleName}`;
  let cache: CachedBodies | undefined;

  // The hot path: bodies are serialised once per credentials generation, so a request
  // costs a token lookup and a write of shared bytes. LastUpdated is when this process
  // first served the generation, which is stable across requests as on EC2.
  const bodiesFor = (creds: Credentials): CachedBodies => {
    const generation = view.generation;
    if (cache !== undefined && cache.generation === generation && cache.creds === creds) return cache;
    const doc = {
      Code: 'Success',
      LastUpdated: isoSeconds(clock.now()),
      Type: 'AWS-HMAC',
      AccessKeyId: creds.accessKeyId,
      SecretAccessKey: creds.secretAccessKey,
      Token: creds.sessionToken,
      Expiration: isoSeconds(creds.expiration),
    };
    const accountId = creds.accountId ?? opts.accountId;
    const classic = Buffer.from(JSON.stringify(doc), 'utf8');
    const extended = Buffer.from(JSON.stringify(accountId === undefined ? doc : { ...doc, AccountId: accountId }), 'utf8');
    // EC2 serves the document as text/plain; SDKs parse the body whatever the type.
    const headers = (b: Buffer): OutgoingHttpHeaders => ({ 'content-type': TEXT, 'content-length': b.length, 'cache-control': 'no-store' });
    cache = { generation, creds, classic, classicHeaders: headers(classic), extended, extendedHeaders: headers(extended) };
    return cache;
  };

  const handleToken = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'PUT') return send(res, 405, { ...PLAIN, allow: 'PUT' }, NOT_ALLOWED);
    if (req.headers['x-forwarded-for'] !== undefined) {
      logger.warn('refused an IMDS token request carrying X-Forwarded-For (proxied requests may not mint tokens)', {
        remoteAddress: req.socket.remoteAddress,
      });
      return send(res, 403, PLAIN, FORBIDDEN);
    }
    // A browser always sends Origin on a PUT; no SDK does. Refusing it keeps a web page
    // reached through DNS rebinding from minting a token on a developer's machine.
    if (req.headers.origin !== undefined) return send(res, 403, PLAIN, FORBIDDEN);
    const ttl = parseTtl(req.headers[TTL_HEADER]);
    if (ttl === undefined) return send(res, 400, PLAIN, BAD_TTL);
    const token = tokens.issue(ttl);
    opts.metrics?.imdsTokens.set(tokens.size);
    // Go v2 and Rust discard a token whose response lacks the TTL header.
    send(res, 200, { ...PLAIN, [TTL_HEADER]: String(ttl) }, Buffer.from(token, 'ascii'));
  };

  /** Whether the request may read metadata; answers 401/403 itself when not. */
  const authorized = (req: IncomingMessage, res: ServerResponse): boolean => {
    const token = req.headers[TOKEN_HEADER];
    if (typeof token === 'string') {
      if (tokens.isValid(token)) return true;
      send(res, 401, PLAIN, UNAUTHORIZED);
      return false;
    }
    if (!allowV1) {
      send(res, 401, PLAIN, UNAUTHORIZED);
      return false;
    }
    // IMDSv1 has no PUT to protect it from browsers; Fetch metadata headers are sent by
    // every current browser and by no SDK, so they mark a page trying to read credentials.
    if (req.headers.origin !== undefined || req.headers['sec-fetch-mode'] !== undefined) {
      send(res, 403, PLAIN, FORBIDDEN);
      return false;
    }
    return true;
  };

  const roleMatches = (role: string): boolean => {
    if (role === roleName) return true;
    if (!role.includes('%')) return false;
    try {
      return decodeURIComponent(role) === roleName;
    } catch {
      return false;
    }
  };

  return (req, res) => {
    const path = requestPath(req.url);
    const r =
      path === classicPath ? classicRoute : path === extendedPath ? extendedRoute : path === undefined ? undefined : (route(path) ?? placement.get(path));
    if (r === undefined) return send(res, 404, PLAIN, NOT_FOUND);
    if (r.kind === 'token') return handleToken(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { ...PLAIN, allow: 'GET, HEAD' }, NOT_ALLOWED);
    if (!authorized(req, res)) return;
    // The role list is static configuration, answered even before the first credentials,
    // so an SDK's first step succeeds and its credentials fetch gets the informative 503.
    if (r.kind === 'static') {
      send(res, 200, { 'content-type': r.type }, r.body);
      return;
    }
    if (r.kind === 'list') {
      res.writeHead(200, roleHeaders);
      res.end(roleBody);
      return;
    }
    if (!roleMatches(r.role)) return send(res, 404, PLAIN, NOT_FOUND);
    const creds = view.current();
    // Defence in depth: never serve expired or empty credentials, even if a view would.
    if (!isUsable(creds, clock.now())) {
      logger.debug('IMDS credentials requested while none are servable', { extended: r.extended });
      if (r.extended) return send(res, 404, PLAIN, NOT_FOUND);
      const why = unavailableMessage(view, UNAVAILABLE_TEXT);
      const body = why.message === UNAVAILABLE_TEXT ? UNAVAILABLE : Buffer.from(JSON.stringify({ Code: why.code, Message: why.message }), 'utf8');
      return send(res, 503, { 'content-type': JSON_TYPE, 'retry-after': '1' }, body);
    }
    const b = bodiesFor(creds);
    if (r.extended) {
      res.writeHead(200, b.extendedHeaders);
      res.end(b.extended);
    } else {
      res.writeHead(200, b.classicHeaders);
      res.end(b.classic);
    }
  };
}
