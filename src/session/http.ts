/**
 * The HTTP connection pool for CreateSession: node:https for a direct connection
 * (node-dispatcher.ts), undici when a proxy is configured (proxy-dispatcher.ts, imported
 * only then). Every setting arrives as an argument: this module never reads process.env
 * (config/ is the only reader), so a proxy or CA bundle is used only when the
 * configuration says so.
 */
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { SidecarError } from '../core/errors.js';
import { parseCaBundle } from '../identity/ca-bundle.js';
import { createNodeDispatcher } from './node-dispatcher.js';
import type { ResponseHeaders } from './response.js';

/** One HTTP request, as the session client sends it (the subset of undici's request options it uses). */
export interface SessionRequest {
  /** `https://host[:port]` */
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal;
}

export interface SessionResponse {
  readonly statusCode: number;
  readonly headers: ResponseHeaders;
  /** Fails with the transport's error on a timeout, abort or broken connection; destroying it closes the connection. */
  readonly body: Readable;
}

/** What the session client sends through: a connection pool it can close. */
export interface SessionDispatcher {
  request(r: SessionRequest): Promise<SessionResponse>;
  /** Waits for requests in flight, then closes every connection. */
  close(): Promise<void>;
}

export interface ProxySettings {
  /** Proxy for https:// endpoints (HTTPS_PROXY). */
  readonly httpsProxy?: string;
  /**
   * Proxy for http:// endpoints (HTTP_PROXY). As in undici, it also serves https://
   * endpoints when `httpsProxy` is not set.
   */
  readonly httpProxy?: string;
  /** NO_PROXY: comma/space separated hosts, `.suffix`, `host:port`, or `*`. */
  readonly noProxy?: string;
}

export interface DispatcherOptions {
  /** Extra trusted roots (`--ca-bundle` / AWS_CA_BUNDLE), PEM. Added to Node's default roots. */
  readonly caBundlePem?: Buffer;
  /** `--no-verify-ssl`: accept any server certificate. */
  readonly noVerifySsl?: boolean;
  readonly proxy?: ProxySettings;
  readonly connectTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
}

/*
 * CreateSession answers in well under a second; these bound a hung connection so that the
 * retry layer gets control back instead of an SDK waiting forever.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/* Below every common server/load-balancer idle timeout, so a reused socket is rarely a dead one. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 4_000;

const MAX_PROXY_URL = 2048;
/** How errors about the extra roots name them: the flag and the variable that set them. */
const CA_BUNDLE_SOURCE = 'the CA bundle (--ca-bundle / AWS_CA_BUNDLE)';

/** Node's default trust store: includes NODE_EXTRA_CA_CERTS/system roots where Node exposes them (>= 22.15). */
function defaultRoots(): readonly string[] {
  const get = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return typeof get === 'function' ? get('default') : tls.rootCertificates;
}

function checkProxyUrl(value: string | undefined, name: string): string {
  if (value === undefined || value === '') return '';
  let url: URL;
  try {
    if (value.length > MAX_PROXY_URL) throw new Error('too long');
    url = new URL(value);
  } catch {
    // The value may carry a password, so it is not echoed.
    throw new SidecarError('CONFIG_INVALID', `${name} is not a URL: use http://host:port or https://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SidecarError('CONFIG_INVALID', `${name} uses the scheme ${url.protocol.replace(':', '')}: use an http:// or https:// proxy URL`);
  }
  return value;
}

/** `http://proxy:3128` from a proxy URL, with any user and password left out (for messages and logs). */
export function describeProxyUrl(value: string): string {
  try {
    const u = new URL(value);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '<invalid proxy URL>';
  }
}

/**
 * Builds the dispatcher (connection pool) the session client sends through. TLS is 1.2 or
 * newer; extra CA roots are added to the defaults rather than replacing them, so a bundle
 * for a TLS-inspecting proxy does not break the public endpoint. Settings are checked here,
 * so a bad proxy URL fails at start-up even though undici is loaded at the first request.
 */
export function createDispatcher(opts: DispatcherOptions = {}): SessionDispatcher {
  // One secure context, built once: parsing ~150 roots per connection would be wasted work.
  const secureContext = tls.createSecureContext({
    minVersion: 'TLSv1.2',
    ...(opts.caBundlePem !== undefined ? { ca: [...defaultRoots(), ...parseCaBundle(opts.caBundlePem, CA_BUNDLE_SOURCE).map((c) => c.toString())] } : {}),
  });
  const tlsOptions: tls.ConnectionOptions & { timeout?: number } = {
    secureContext,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: opts.noVerifySsl !== true,
    timeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  };
  const common = {
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    headersTimeout: opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    bodyTimeout: opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  };
  const httpsProxy = checkProxyUrl(opts.proxy?.httpsProxy, 'the HTTPS proxy (HTTPS_PROXY)');
  const httpProxy = checkProxyUrl(opts.proxy?.httpProxy, 'the HTTP proxy (HTTP_PROXY)');
  if (httpsProxy === '' && httpProxy === '') {
    return createNodeDispatcher({
      secureContext,
      rejectUnauthorized: tlsOptions.rejectUnauthorized !== false,
      connectTimeoutMs: common.connectTimeout,
      headersTimeoutMs: common.headersTimeout,
      bodyTimeoutMs: common.bodyTimeout,
      keepAliveTimeoutMs: common.keepAliveTimeout,
    });
  }
  const settings = { ...common, httpProxy, httpsProxy, noProxy: opts.proxy?.noProxy ?? '', tls: tlsOptions };
  let proxied: Promise<SessionDispatcher> | undefined;
  const load = () => (proxied ??= import('./proxy-dispatcher.js').then((m) => m.createProxyDispatcher(settings)));
  return {
    request: async (r) => (await load()).request(r),
    close: async () => {
      if (proxied !== undefined) await (await proxied).close();
    },
  };
}
