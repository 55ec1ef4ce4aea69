import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Defences in depth for the credential listeners (IMDS and container), checked before a
 * handler runs:
 *
 *  - DNS rebinding: a page that makes its own host name resolve to 127.0.0.1 reaches the
 *    port, but its requests still carry that name in `Host`. SDKs address the sidecar by an
 *    IP literal (127.0.0.1, [::1]) or `localhost`, so any other name is refused unless the
 *    operator allowed it (`--allowed-host`).
 *  - Browsers: every request a browser makes carries `Origin` (non-GET, CORS) or the
 *    `Sec-Fetch-*` metadata headers (all current engines); no AWS SDK sends either, so a
 *    credential request carrying one is refused.
 *
 * Pure: the listener calls it with the request's headers and answers 403 with the reason.
 */
export interface RequestGuardOptions {
  /** Extra host names accepted in `Host` (lower case, no port), from --allowed-host. */
  readonly allowedHosts?: readonly string[];
}

export type GuardVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: GuardVerdict = Object.freeze({ ok: true });

/** Host header values longer than this are refused outright (a DNS name is at most 253). */
const MAX_HOST_LENGTH = 260;

/**
 * The host part of a `Host` header value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower
 * case without a trailing dot, or undefined when the value is not of that shape.
 */
export function hostOf(value: string): string | undefined {
  if (value.length === 0 || value.length > MAX_HOST_LENGTH) return undefined;
  let host: string;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return undefined;
    const rest = value.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    host = value.slice(1, end);
    return isIP(host) === 6 ? host.toLowerCase() : undefined;
  }
  const colon = value.indexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(value.slice(colon + 1))) return undefined;
    host = value.slice(0, colon);
  } else {
    host = value;
  }
  host = host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  // Labels of letters, digits, '-' and '_' (no empty label: '..' or '.x' is no host).
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) return undefined;
  return host;
}

/** Normalises an --allowed-host value (a host name, no port); undefined when it is not one. */
export function normaliseAllowedHost(value: string): string | undefined {
  const v = value.trim();
  if (v.includes(':') || v.includes('[')) return undefined;
  return hostOf(v);
}

export function checkHost(headers: IncomingHttpHeaders, opts: RequestGuardOptions = {}): GuardVerdict {
  const raw = headers.host;
  // Absent Host: only HTTP/1.0 clients omit it (Node refuses HTTP/1.1 without one); a
  // browser always sends it, so its absence is no rebinding attempt.
  if (raw === undefined) return OK;
  const host = hostOf(raw);
  if (host === undefined) return { ok: false, reason: 'malformed Host header' };
  if (isIP(host) !== 0 || host === 'localhost') return OK;
  if (opts.allowedHosts?.includes(host) === true) return OK;
  return {
    ok: false,
    reason: `Host "${host.slice(0, 64)}" is not an IP address, localhost or an --allowed-host name (DNS rebinding guard)`,
  };
}

/** Refuses requests made by a browser: `Origin` or any `Sec-Fetch-*` header. */
export function checkBrowser(headers: IncomingHttpHeaders): GuardVerdict {
  if (headers.origin !== undefined) return { ok: false, reason: 'requests with an Origin header (browsers) are refused' };
  for (const name of Object.keys(headers)) {
    if (name.startsWith('sec-fetch-')) return { ok: false, reason: `requests with a ${name} header (browsers) are refused` };
  }
  return OK;
}

/** Both checks, the Host first. */
export function guardCredentialRequest(headers: IncomingHttpHeaders, opts: RequestGuardOptions = {}): GuardVerdict {
  const host = checkHost(headers, opts);
  return host.ok ? checkBrowser(headers) : host;
}
