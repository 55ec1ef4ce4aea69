/**
 * CreateSession through an HTTP(S) proxy: undici's EnvHttpProxyAgent (CONNECT tunnels,
 * NO_PROXY matching). Imported by http.ts only when a proxy is configured, so the other
 * configurations never load undici.
 */
import type { ConnectionOptions } from 'node:tls';
import { EnvHttpProxyAgent } from 'undici';
import type { SessionDispatcher } from './http.js';

export interface ProxyDispatcherSettings {
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly keepAliveTimeout: number;
  /** '' = none; never undefined, which would make undici read process.env. */
  readonly httpProxy: string;
  readonly httpsProxy: string;
  readonly noProxy: string;
  readonly tls: ConnectionOptions & { timeout?: number };
}

export function createProxyDispatcher(s: ProxyDispatcherSettings): SessionDispatcher {
  /*
   * EnvHttpProxyAgent falls back to process.env for any value left undefined, so each one
   * is passed explicitly ('' = none). `connect` is for direct (NO_PROXY) connections,
   * `requestTls` for TLS to the endpoint through the tunnel, `proxyTls` for an https:// proxy.
   */
  const agent = new EnvHttpProxyAgent({
    connectTimeout: s.connectTimeout,
    headersTimeout: s.headersTimeout,
    bodyTimeout: s.bodyTimeout,
    keepAliveTimeout: s.keepAliveTimeout,
    httpProxy: s.httpProxy,
    httpsProxy: s.httpsProxy,
    noProxy: s.noProxy,
    connect: s.tls,
    requestTls: s.tls,
    proxyTls: s.tls,
  });
  return {
    request: async (r) => {
      const res = await agent.request({
        origin: r.origin,
        path: r.path,
        method: r.method,
        headers: { ...r.headers },
        ...(r.body !== undefined ? { body: r.body } : {}),
        ...(r.signal !== undefined ? { signal: r.signal } : {}),
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    },
    close: () => agent.close(),
  };
}
