/**
 * SigV4 with an X.509 key (the IAM Roles Anywhere signing process), as pure functions.
 * Shared by the signer (client side) and the emulator's verifier, which rebuilds the
 * canonical request from the bytes it received; the captured vectors in test/fixtures
 * keep both honest. Reference: docs/createsession.md, "Signing (SigV4-X509)".
 */
import { createHash } from 'node:crypto';
import type { SigningAlgorithm } from '../core/identity.js';

export const SERVICE = 'rolesanywhere';
export const TERMINATOR = 'aws4_request';

/** Headers never signed (the official helper leaves these out; they may be changed by proxies). */
const UNSIGNED_HEADERS = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;
export type QueryList = ReadonlyArray<readonly [name: string, value: string]>;

export interface CanonicalInput {
  readonly method: string;
  /** Path as sent, e.g. `/sessions` (no query). */
  readonly path: string;
  /** Decoded query parameters. */
  readonly query: QueryList;
  /** Headers as sent (any case). Only the ones named in `signedHeaders` are used. */
  readonly headers: HeaderList;
  /** Lower-case names to sign, in any order. */
  readonly signedHeaders: readonly string[];
  readonly body: Buffer | string;
}

/** RFC 3986 percent-encoding: unreserved characters stay, everything else is %XX (upper hex). */
export function uriEncode(s: string, encodeSlash = true): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (!encodeSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Canonical query string: each name and value encoded, sorted by name then value. */
export function canonicalQuery(query: QueryList): string {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** Canonical path: each segment URI-encoded, slashes kept; empty path is `/`. */
export function canonicalPath(path: string): string {
  if (path === '') return '/';
  return path
    .split('/')
    .map((seg) => uriEncode(safeDecode(seg)))
    .join('/');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Header value canonical form: trimmed, inner runs of spaces collapsed. */
export function canonicalHeaderValue(v: string): string {
  return v.trim().replace(/ +/g, ' ');
}

/** The header names a client signs: everything it sends except Authorization, User-Agent, X-Amzn-Trace-Id. */
export function signableHeaderNames(headers: HeaderList): string[] {
  const names = new Set<string>();
  for (const [name] of headers) {
    const lower = name.toLowerCase();
    if (!UNSIGNED_HEADERS.has(lower)) names.add(lower);
  }
  return [...names].sort();
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The canonical request. Multiple values of one header are joined with `,` in the order
 * received, as SigV4 prescribes. Throws if a signed header is absent (the caller maps that
 * to an authentication failure).
 */
export function canonicalRequest(input: CanonicalInput): string {
  const signed = [...new Set(input.signedHeaders.map((h) => h.toLowerCase()))].sort();
  const values = new Map<string, string[]>();
  for (const [name, value] of input.headers) {
    const lower = name.toLowerCase();
    const list = values.get(lower) ?? [];
    list.push(canonicalHeaderValue(value));
    values.set(lower, list);
  }
  const headerLines = signed.map((name) => {
    const v = values.get(name);
    if (v === undefined) throw new MissingSignedHeaderError(name);
    return `${name}:${v.join(',')}\n`;
  });
  return [
    input.method.toUpperCase(),
    canonicalPath(input.path),
    canonicalQuery(input.query),
    headerLines.join(''),
    signed.join(';'),
    sha256Hex(input.body),
  ].join('\n');
}

export class MissingSignedHeaderError extends Error {
  constructor(readonly header: string) {
    super(`signed header "${header}" is not present in the request`);
  }
}

/** `YYYYMMDD/<region>/rolesanywhere/aws4_request`. */
export function credentialScope(amzDate: string, region: string): string {
  return `${amzDate.slice(0, 8)}/${region}/${SERVICE}/${TERMINATOR}`;
}

export function stringToSign(algorithm: SigningAlgorithm, amzDate: string, scope: string, canonical: string): string {
  return [algorithm, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function authorizationHeader(
  algorithm: SigningAlgorithm,
  serialDecimal: string,
  scope: string,
  signedHeaders: readonly string[],
  signatureHex: string,
): string {
  const signed = [...signedHeaders]
    .map((h) => h.toLowerCase())
    .sort()
    .join(';');
  return `${algorithm} Credential=${serialDecimal}/${scope}, SignedHeaders=${signed}, Signature=${signatureHex}`;
}

export interface ParsedAuthorization {
  readonly algorithm: string;
  readonly serial: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signatureHex: string;
}

/**
 * Parses `<alg> Credential=<serial>/<date>/<region>/<service>/<term>, SignedHeaders=a;b, Signature=hex`.
 * Returns undefined when the header does not have that shape.
 */
export function parseAuthorization(header: string): ParsedAuthorization | undefined {
  const m = /^(\S+) Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/([^/,\s]+), ?SignedHeaders=([a-z0-9\-;]+), ?Signature=([0-9a-fA-F]+)$/.exec(
    header.trim(),
  );
  if (!m) return undefined;
  const [, algorithm, serial, date, region, service, terminator, signed, sig] = m as unknown as string[];
  return {
    algorithm: algorithm!,
    serial: serial!,
    date: date!,
    region: region!,
    service: service!,
    terminator: terminator!,
    signedHeaders: signed!.split(';'),
    signatureHex: sig!,
  };
}
