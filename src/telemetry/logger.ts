import { isSidecarError, oneLine } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { LogFields, LogLevel, Logger } from '../core/logger.js';

/**
 * The structured logger: one line per event (JSON lines by default, for log shippers; a
 * `key=value` text form for people). Every field passes through `sanitize`, which redacts
 * secrets by field name at any depth and bounds sizes, so a careless `logger.debug('x',
 * { response })` can neither leak a session token (the official helper's --debug printed
 * response bodies, issue #138) nor flood the log.
 */

export type LogFormat = 'json' | 'text';

export interface LogLimits {
  /** Longest string value kept, in characters (longer ones are cut and marked). */
  maxString: number;
  /** Nesting depth below which objects are summarised as `[Object]`. */
  maxDepth: number;
  /** Keys kept per object and items kept per array. */
  maxEntries: number;
  /** Values rendered per event, all depths together (bounds the line length). */
  maxNodes: number;
}

export const defaultLogLimits: Readonly<LogLimits> = Object.freeze({
  maxString: 1024,
  maxDepth: 6,
  maxEntries: 50,
  maxNodes: 500,
});

export interface LoggerOptions {
  stream: NodeJS.WritableStream;
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  format?: LogFormat;
  clock?: Clock;
  /** Fields added to every line (e.g. `{ component: 'serve' }`). */
  fields?: LogFields;
  /** Include error stacks; off by default (stacks are noise in JSON logs). */
  stacks?: boolean;
  limits?: Partial<LogLimits>;
}

export const REDACTED = '[REDACTED]';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(LEVELS, s);
}

// Field-name rule, applied to the name lower-cased with everything but letters and digits
// removed (so `secret_access_key`, `SecretAccessKey` and `x-aws-ec2-metadata-token` are
// judged alike). Order: exact names, then harmless suffixes (metadata *about* a secret:
// `tokenTtlSeconds`, `passwordFile`), then substrings and suffixes that mark a secret.
// `liveTokens` matches nothing and stays; plural `tokens` alone is redacted.
const SECRET_EXACT = new Set([
  'token',
  'tokens',
  'key',
  'keys',
  'secret',
  'secrets',
  'password',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'pin',
  'auth',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'signature',
  'credential',
  'pkcs8password',
]);
const HARMLESS_SUFFIXES = [
  'file',
  'path',
  'dir',
  'env',
  'ttl',
  'ttlseconds',
  'seconds',
  'ms',
  'count',
  'type',
  'kind',
  'algorithm',
  'fingerprint',
  'expiration',
  'expiry',
  'source',
];
const SECRET_PARTS = [
  'secret',
  'password',
  'passwd',
  'passphrase',
  'authorization',
  'privatekey',
  'sessiontoken',
  'securitytoken',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'bearer',
  'apikey',
  'cookie',
  'keymaterial',
  'signingkey',
];
const SECRET_SUFFIXES = ['token', 'key', 'pin', 'pwd', 'auth'];

/** True when a field with this name must never have its value logged. */
export function isSecretFieldName(name: string): boolean {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (n.length === 0) return false;
  if (SECRET_EXACT.has(n)) return true;
  if (HARMLESS_SUFFIXES.some((s) => n.endsWith(s))) return false;
  return SECRET_PARTS.some((p) => n.includes(p)) || SECRET_SUFFIXES.some((s) => n.endsWith(s));
}

// Values that are secrets whatever their field is called: PEM private keys, and passwords
// in URL userinfo (a proxy URL such as http://user:pass@proxy:3128).
const PEM_PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^/\s@]+@/gi;

function sanitizeString(s: string, limits: LogLimits): string {
  if (PEM_PRIVATE.test(s)) return REDACTED;
  const cut = s.length > limits.maxString ? `${s.slice(0, limits.maxString)}...[${s.length - limits.maxString} more chars]` : s;
  return cut.includes('@') ? cut.replace(URL_USERINFO, `$1${REDACTED}@`) : cut;
}

interface Walk {
  limits: LogLimits;
  stacks: boolean;
  nodes: number;
  seen: WeakSet<object>;
}

function serializeError(e: Error, w: Walk, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (isSidecarError(e)) {
    out.code = e.code;
    out.message = sanitizeString(e.message, w.limits);
    if (Object.keys(e.details).length > 0) out.details = walk(e.details, w, depth + 1);
  } else {
    const code = (e as { code?: unknown }).code;
    out.code = typeof code === 'string' || typeof code === 'number' ? code : e.name;
    out.message = sanitizeString(oneLine(e.message, w.limits.maxString), w.limits);
  }
  if (w.stacks && typeof e.stack === 'string') out.stack = sanitizeString(e.stack, w.limits);
  if (e.cause !== undefined && depth < w.limits.maxDepth) out.cause = walk(e.cause, w, depth + 1);
  return out;
}

function walk(v: unknown, w: Walk, depth: number): unknown {
  if (++w.nodes > w.limits.maxNodes) return '[...]';
  switch (typeof v) {
    case 'string':
      return sanitizeString(v, w.limits);
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'boolean':
      return v;
    case 'bigint':
      return v.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (v === null) return null;
  const o = v as object;
  if (w.seen.has(o)) return '[Circular]';
  if (o instanceof Error) {
    w.seen.add(o);
    return serializeError(o, w, depth);
  }
  if (o instanceof Date) return Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString();
  if (o instanceof URL) {
    const u = new URL(o.href);
    if (u.password !== '') u.password = REDACTED;
    return u.href;
  }
  // Raw bytes are keys, certificates or bodies: their size is what a log needs.
  if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) return `[${o.byteLength} bytes]`;
  if (depth >= w.limits.maxDepth) return Array.isArray(o) ? '[Array]' : '[Object]';
  w.seen.add(o);
  if (Array.isArray(o)) {
    const items = o.slice(0, w.limits.maxEntries).map((x) => walk(x, w, depth + 1) ?? null);
    if (o.length > w.limits.maxEntries) items.push(`...[${o.length - w.limits.maxEntries} more]`);
    return items;
  }
  if (o instanceof Map || o instanceof Set) return `[${o.constructor.name} of ${o.size}]`;
  return walkFields(o as Record<string, unknown>, w, depth);
}

function walkFields(o: Record<string, unknown>, w: Walk, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const k of Object.keys(o)) {
    if (n++ >= w.limits.maxEntries) {
      out['...'] = `[${Object.keys(o).length - w.limits.maxEntries} more keys]`;
      break;
    }
    const raw = o[k];
    if (raw === undefined) continue;
    const value = isSecretFieldName(k) ? REDACTED : walk(raw, w, depth + 1);
    if (value !== undefined) out[k] = value;
  }
  return out;
}

/**
 * Redacts and bounds a value as the logger would: secret-named fields become
 * `[REDACTED]` at any depth, errors become `{code, message}`, strings, arrays, objects
 * and the total size are capped. Exported so other sinks (e.g. a debug dump) reuse it.
 */
export function sanitize(value: unknown, options: { limits?: Partial<LogLimits>; stacks?: boolean } = {}): unknown {
  return walk(
    value,
    {
      limits: { ...defaultLogLimits, ...options.limits },
      stacks: options.stacks ?? false,
      nodes: 0,
      seen: new WeakSet(),
    },
    0,
  );
}

const RESERVED = new Set(['time', 'level', 'msg']);

function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=\\]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? 'null';
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const format = options.format ?? 'json';
  const clock = options.clock ?? systemClock;
  const limits: LogLimits = { ...defaultLogLimits, ...options.limits };
  const stacks = options.stacks ?? false;
  const stream = options.stream;

  const emit = (level: LogLevel, msg: string, bound: LogFields, fields: LogFields | undefined): void => {
    if (LEVELS[level] < threshold) return;
    const w: Walk = { limits, stacks, nodes: 0, seen: new WeakSet() };
    const merged = fields === undefined ? bound : { ...bound, ...fields };
    const clean = walkFields(merged, w, 0);
    const time = new Date(clock.now()).toISOString();
    const message = sanitizeString(oneLine(msg, limits.maxString), limits);
    let line: string;
    if (format === 'json') {
      const rec: Record<string, unknown> = { time, level, msg: message };
      // A field named like a core key must not overwrite it (a log reader trusts `level`).
      for (const [k, v] of Object.entries(clean)) rec[RESERVED.has(k) ? `field_${k}` : k] = v;
      line = JSON.stringify(rec);
    } else {
      const parts = [time, level.toUpperCase(), textValue(message)];
      for (const [k, v] of Object.entries(clean)) parts.push(`${k}=${textValue(v)}`);
      line = parts.join(' ');
    }
    try {
      stream.write(`${line}\n`);
    } catch {
      // A closed log stream must not take the process down; there is nowhere left to report it.
    }
  };

  const make = (bound: LogFields): Logger => ({
    debug: (msg, fields) => emit('debug', msg, bound, fields),
    info: (msg, fields) => emit('info', msg, bound, fields),
    warn: (msg, fields) => emit('warn', msg, bound, fields),
    error: (msg, fields) => emit('error', msg, bound, fields),
    child: (fields) => make({ ...bound, ...fields }),
  });
  return make({ ...options.fields });
}
