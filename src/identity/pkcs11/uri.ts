/**
 * RFC 7512 PKCS#11 URIs (`pkcs11:token=Workload;object=web;type=cert?pin-source=/run/pin`),
 * as AWS's helper takes them in --certificate and --private-key. Pure: a string in, the
 * attributes out, or CONFIG_INVALID naming what is wrong. The PIN, when the URI carries one,
 * is never part of a description made for a message or a log line.
 */
import { SidecarError } from '../../core/errors.js';

/** A URI is a command-line value; anything this long is not one a user wrote. */
export const MAX_PKCS11_URI_LENGTH = 4096;

export type Pkcs11ObjectType = 'cert' | 'private' | 'public' | 'secret-key' | 'data';

export interface Pkcs11Uri {
  // token selection (path attributes)
  readonly token?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly serial?: string;
  readonly slotId?: number;
  readonly slotDescription?: string;
  readonly slotManufacturer?: string;
  // object selection
  readonly object?: string;
  readonly id?: Buffer;
  readonly type?: Pkcs11ObjectType;
  // query attributes
  readonly pinValue?: string;
  readonly pinSource?: string;
  readonly modulePath?: string;
  readonly moduleName?: string;
}

const PATH_ATTRS = new Set([
  'token',
  'manufacturer',
  'model',
  'serial',
  'slot-id',
  'slot-description',
  'slot-manufacturer',
  'object',
  'id',
  'type',
  // The library's own identity: accepted (RFC 7512) and not matched, since one library is loaded.
  'library-manufacturer',
  'library-description',
  'library-version',
]);
const QUERY_ATTRS = new Set(['pin-value', 'pin-source', 'module-path', 'module-name']);
const TYPES = new Set<string>(['cert', 'private', 'public', 'secret-key', 'data']);

export function isPkcs11Uri(value: string): boolean {
  return /^pkcs11:/i.test(value);
}

function fail(flag: string, why: string): never {
  throw new SidecarError('CONFIG_INVALID', `${flag} is not a valid PKCS#11 URI (RFC 7512): ${why}; e.g. "pkcs11:token=MyToken;object=my-key"`);
}

/** Percent-decoding to bytes; a "%" not followed by two hex digits is an error. */
function pctDecode(raw: string, flag: string, name: string): Buffer {
  const out: number[] = [];
  const bytes = Buffer.from(raw, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x25) {
      out.push(b);
      continue;
    }
    const hex = bytes.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail(flag, `"${name}" has a "%" that is not followed by two hex digits`);
    out.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(out);
}

function text(raw: string, flag: string, name: string): string {
  const bytes = pctDecode(raw, flag, name);
  const s = bytes.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(bytes)) fail(flag, `"${name}" is not UTF-8 text once percent-decoded`);
  return s;
}

/** Parses a `pkcs11:` URI. `flag` names the option it came from, for messages. */
export function parsePkcs11Uri(value: string, flag = 'the PKCS#11 URI'): Pkcs11Uri {
  if (value.length > MAX_PKCS11_URI_LENGTH) fail(flag, `it is longer than ${MAX_PKCS11_URI_LENGTH} characters`);
  if (!isPkcs11Uri(value)) fail(flag, 'it does not start with "pkcs11:"');
  const rest = value.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  const seen = new Set<string>();
  const out: { -readonly [K in keyof Pkcs11Uri]: Pkcs11Uri[K] } = {};

  const take = (part: string, allowed: Set<string>, where: string): [string, string] | undefined => {
    if (part === '') return undefined;
    const eq = part.indexOf('=');
    if (eq <= 0) fail(flag, `"${part.slice(0, 40)}" in the ${where} is not name=value`);
    const name = part.slice(0, eq).toLowerCase();
    if (!allowed.has(name) && !name.startsWith('x-')) {
      fail(flag, `unknown ${where} attribute "${name.slice(0, 40)}" (known: ${[...allowed].join(', ')})`);
    }
    if (seen.has(name)) fail(flag, `"${name}" is given twice`);
    seen.add(name);
    return [name, part.slice(eq + 1)];
  };

  for (const part of path.split(';')) {
    const kv = take(part, PATH_ATTRS, 'path');
    if (kv === undefined) continue;
    const [name, raw] = kv;
    switch (name) {
      case 'token':
        out.token = text(raw, flag, name);
        break;
      case 'manufacturer':
        out.manufacturer = text(raw, flag, name);
        break;
      case 'model':
        out.model = text(raw, flag, name);
        break;
      case 'serial':
        out.serial = text(raw, flag, name);
        break;
      case 'slot-description':
        out.slotDescription = text(raw, flag, name);
        break;
      case 'slot-manufacturer':
        out.slotManufacturer = text(raw, flag, name);
        break;
      case 'object':
        out.object = text(raw, flag, name);
        break;
      case 'id': {
        const id = pctDecode(raw, flag, name);
        if (id.length === 0) fail(flag, '"id" is empty');
        out.id = id;
        break;
      }
      case 'slot-id': {
        if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff) fail(flag, '"slot-id" must be a decimal number below 2^32');
        out.slotId = Number(raw);
        break;
      }
      case 'type': {
        const t = text(raw, flag, name);
        if (!TYPES.has(t)) fail(flag, `"type" must be one of ${[...TYPES].join(', ')}, got "${t.slice(0, 20)}"`);
        out.type = t as Pkcs11ObjectType;
        break;
      }
      default:
        break; // library-* and x- vendor attributes
    }
  }
  for (const part of query.split('&')) {
    const kv = take(part, QUERY_ATTRS, 'query');
    if (kv === undefined) continue;
    const [name, raw] = kv;
    const v = text(raw, flag, name);
    if (name === 'pin-value') out.pinValue = v;
    else if (name === 'pin-source') out.pinSource = v.startsWith('file:') ? v.slice('file:'.length) : v;
    else if (name === 'module-path') out.modulePath = v;
    else if (name === 'module-name') out.moduleName = v;
  }
  if (out.pinValue !== undefined && out.pinSource !== undefined) fail(flag, 'it gives both pin-value and pin-source');
  return Object.freeze(out);
}

/** The URI for messages and logs: every attribute but the PIN value, percent-encoded where needed. */
export function describePkcs11Uri(u: Pkcs11Uri): string {
  const enc = (s: string): string => encodeURIComponent(s);
  const path: string[] = [];
  if (u.token !== undefined) path.push(`token=${enc(u.token)}`);
  if (u.manufacturer !== undefined) path.push(`manufacturer=${enc(u.manufacturer)}`);
  if (u.model !== undefined) path.push(`model=${enc(u.model)}`);
  if (u.serial !== undefined) path.push(`serial=${enc(u.serial)}`);
  if (u.slotId !== undefined) path.push(`slot-id=${u.slotId}`);
  if (u.object !== undefined) path.push(`object=${enc(u.object)}`);
  if (u.id !== undefined) path.push(`id=${[...u.id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`);
  if (u.type !== undefined) path.push(`type=${u.type}`);
  const query: string[] = [];
  if (u.pinSource !== undefined) query.push(`pin-source=${enc(u.pinSource)}`);
  if (u.pinValue !== undefined) query.push('pin-value=(hidden)');
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
