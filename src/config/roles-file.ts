/**
 * `--config FILE`: several roles in one sidecar (YAML, parsed with the `yaml` package and
 * checked against the schema below). Each role's settings are the flags' own settings under
 * camelCase names, so a role is the command line plus its overrides: the parsed file becomes,
 * per role, a map of flag values laid over the command's options (see Options.overlay).
 * Precedence (as in SPIRE's agent): a role's own keys, then command-line flags and
 * environment, then the file's top-level keys, then defaults.
 *
 * Example:
 *   certificate: /etc/workload/cert.pem
 *   privateKey: /etc/workload/key.pem
 *   trustAnchorArn: arn:aws:rolesanywhere:...:trust-anchor/...
 *   profileArn: arn:aws:rolesanywhere:...:profile/...
 *   roleArn: arn:aws:iam::111111111111:role/workload
 *   defaultRole: reader
 *   roles:
 *     reader: { assumeRoleArn: arn:aws:iam::222222222222:role/reader, imdsPort: 9921 }
 *     base: {}
 */
import { parse as parseYaml } from 'yaml';
import { SidecarError, oneLine } from '../core/errors.js';
import type { OptionValue } from './parse.js';

/** A config file lists a few roles; 64 KiB is far more than that needs and bounds the parse. */
export const MAX_CONFIG_BYTES = 64 * 1024;
export const MAX_ROLES = 32;
/** Role names go into URL paths (`/roles/<name>`), profile names and metric labels. */
export const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

type Kind = 'string' | 'number' | 'list' | 'tags';

interface Key {
  readonly flag: string;
  readonly kind: Kind;
  /** Allowed at the top level (shared by every role). */
  readonly shared: boolean;
  /** Allowed inside a role. */
  readonly perRole: boolean;
}

/** The schema: every accepted key, the flag it stands for, and where it may appear. */
export const CONFIG_KEYS: Readonly<Record<string, Key>> = {
  certificate: { flag: 'certificate', kind: 'string', shared: true, perRole: true },
  privateKey: { flag: 'private-key', kind: 'string', shared: true, perRole: true },
  intermediates: { flag: 'intermediates', kind: 'string', shared: true, perRole: true },
  pkcs8PasswordFile: { flag: 'pkcs8-password-file', kind: 'string', shared: true, perRole: true },
  trustAnchorArn: { flag: 'trust-anchor-arn', kind: 'string', shared: true, perRole: true },
  profileArn: { flag: 'profile-arn', kind: 'string', shared: true, perRole: true },
  roleArn: { flag: 'role-arn', kind: 'string', shared: true, perRole: true },
  sessionDuration: { flag: 'session-duration', kind: 'number', shared: true, perRole: true },
  roleSessionName: { flag: 'role-session-name', kind: 'string', shared: false, perRole: true },
  region: { flag: 'region', kind: 'string', shared: true, perRole: false },
  endpoint: { flag: 'endpoint', kind: 'string', shared: true, perRole: false },
  caBundle: { flag: 'ca-bundle', kind: 'string', shared: true, perRole: false },
  stsEndpoint: { flag: 'sts-endpoint', kind: 'string', shared: true, perRole: true },
  assumeRoleArn: { flag: 'assume-role-arn', kind: 'string', shared: false, perRole: true },
  externalId: { flag: 'external-id', kind: 'string', shared: false, perRole: true },
  assumeRoleSessionName: { flag: 'assume-role-session-name', kind: 'string', shared: false, perRole: true },
  assumeRoleDuration: { flag: 'assume-role-duration', kind: 'number', shared: false, perRole: true },
  sessionPolicyFile: { flag: 'session-policy-file', kind: 'string', shared: false, perRole: true },
  policyArns: { flag: 'policy-arns', kind: 'list', shared: false, perRole: true },
  sourceIdentity: { flag: 'source-identity', kind: 'string', shared: false, perRole: true },
  tags: { flag: 'tags', kind: 'tags', shared: false, perRole: true },
  transitiveTagKeys: { flag: 'transitive-tag-keys', kind: 'list', shared: false, perRole: true },
  minRemaining: { flag: 'min-remaining', kind: 'number', shared: true, perRole: true },
  auditLog: { flag: 'audit-log', kind: 'string', shared: true, perRole: false },
  imdsPort: { flag: 'port', kind: 'number', shared: false, perRole: true },
  imdsRoleName: { flag: 'role-name', kind: 'string', shared: false, perRole: true },
  profile: { flag: 'profile', kind: 'string', shared: false, perRole: true },
};

/** Keys whose flags take an identity: a role that sets one has its own certificate load. */
export const IDENTITY_FLAGS = new Set(['certificate', 'private-key', 'intermediates', 'pkcs8-password-file']);

export interface RoleEntry {
  readonly name: string;
  /** Flag name -> value, for this role only. */
  readonly values: ReadonlyMap<string, OptionValue>;
  /** True when the role names its own certificate or key. */
  readonly ownIdentity: boolean;
}

export interface RolesConfig {
  /** Top-level values: flag name -> value, below flags and environment. */
  readonly shared: ReadonlyMap<string, OptionValue>;
  readonly roles: readonly RoleEntry[];
  /** The role served at the usual paths (`/credentials`, --port); the first unless `defaultRole` says. */
  readonly defaultRole: string;
}

function invalid(where: string, msg: string): SidecarError {
  return new SidecarError('CONFIG_INVALID', oneLine(`${where}: ${msg}`, 400));
}

function convert(v: unknown, key: string, k: Key, where: string): OptionValue {
  const at = `${where} ${key}`;
  switch (k.kind) {
    case 'string':
      if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw invalid(at, 'must be a non-empty string of at most 4096 characters');
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1e9) throw invalid(at, 'must be a whole number');
      return v;
    case 'list': {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || list.length > 64 || !list.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 2048 && !x.includes(','))) {
        throw invalid(at, 'must be a list of at most 64 strings without commas');
      }
      return list.join(',');
    }
    case 'tags': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(at, 'must be a mapping of tag keys to values, e.g. {team: data}');
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length > 50) throw invalid(at, 'has more than 50 tags');
      return entries
        .map(([tk, tv]) => {
          const value = typeof tv === 'number' || typeof tv === 'boolean' ? String(tv) : tv;
          if (typeof value !== 'string' || tk.includes(',') || tk.includes('=') || value.includes(','))
            throw invalid(`${at}.${oneLine(tk, 40)}`, 'tag keys and values are strings without "," (keys also without "=")');
          return `${tk}=${value}`;
        })
        .join(',');
    }
  }
}

/** Levenshtein distance, for "did you mean" (both strings are short keys). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function section(doc: Record<string, unknown>, where: string, level: 'shared' | 'perRole'): Map<string, OptionValue> {
  const out = new Map<string, OptionValue>();
  for (const [key, value] of Object.entries(doc)) {
    if (level === 'shared' && (key === 'roles' || key === 'defaultRole')) continue;
    const k = CONFIG_KEYS[key];
    if (k === undefined) {
      const near = Object.keys(CONFIG_KEYS).find((c) => editDistance(c.toLowerCase(), key.toLowerCase().replace(/[-_]/g, '').slice(0, 64)) <= 2);
      throw invalid(where, `unknown key "${oneLine(key, 60)}"${near !== undefined ? `: did you mean "${near}"?` : ''}`);
    }
    if (level === 'shared' && !k.shared) throw invalid(where, `"${key}" belongs inside a role (roles.<name>.${key})`);
    if (level === 'perRole' && !k.perRole) throw invalid(where, `"${key}" is shared by every role: set it at the top level`);
    if (value === null || value === undefined) continue;
    out.set(k.flag, convert(value, key, k, where));
  }
  return out;
}

/** Parses and validates the text of a config file; `source` names it in errors. */
export function parseRolesConfig(text: string, source = '--config'): RolesConfig {
  if (Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES) throw invalid(source, `is larger than ${MAX_CONFIG_BYTES} bytes`);
  let doc: unknown;
  try {
    // Aliases are refused outright: they are the YAML feature that makes a small file expand.
    doc = parseYaml(text, { maxAliasCount: 0, prettyErrors: false, uniqueKeys: true, strict: true });
  } catch (e) {
    throw invalid(source, `is not valid YAML (${oneLine((e as Error).message, 200)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(source, 'must be a YAML mapping with a "roles" key');
  const top = doc as Record<string, unknown>;
  const shared = section(top, source, 'shared');
  const rolesDoc = top.roles;
  if (typeof rolesDoc !== 'object' || rolesDoc === null || Array.isArray(rolesDoc))
    throw invalid(source, '"roles" must be a mapping of role names to their settings, e.g. roles: {reader: {assumeRoleArn: ...}}');
  const names = Object.keys(rolesDoc);
  if (names.length === 0) throw invalid(source, '"roles" names no role');
  if (names.length > MAX_ROLES) throw invalid(source, `"roles" names ${names.length} roles; at most ${MAX_ROLES} are accepted`);
  const roles: RoleEntry[] = [];
  const ports = new Map<number, string>();
  const profiles = new Map<string, string>();
  for (const name of names) {
    if (!ROLE_NAME.test(name))
      throw invalid(`${source} roles`, `role name "${oneLine(name, 60)}" must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit`);
    const body = (rolesDoc as Record<string, unknown>)[name] ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid(`${source} roles.${name}`, 'must be a mapping (use {} for a role with only the shared settings)');
    const values = section(body as Record<string, unknown>, `${source} roles.${name}`, 'perRole');
    const port = values.get('port');
    if (typeof port === 'number' && port !== 0) {
      if (port > 65535) throw invalid(`${source} roles.${name} imdsPort`, 'must be a port from 0 to 65535');
      const other = ports.get(port);
      if (other !== undefined)
        throw invalid(`${source} roles.${name} imdsPort`, `${port} is already the IMDS port of role "${other}": each role needs its own listener`);
      ports.set(port, name);
    }
    const profile = String(values.get('profile') ?? name);
    const clash = profiles.get(profile);
    if (clash !== undefined) throw invalid(`${source} roles.${name}`, `writes profile "${profile}" like role "${clash}": give each role its own profile`);
    profiles.set(profile, name);
    roles.push({ name, values, ownIdentity: [...values.keys()].some((f) => IDENTITY_FLAGS.has(f)) });
  }
  const defaultRole = top.defaultRole ?? names[0];
  if (typeof defaultRole !== 'string' || !names.includes(defaultRole))
    throw invalid(source, `defaultRole "${oneLine(JSON.stringify(defaultRole) ?? typeof defaultRole, 60)}" is not one of the roles (${names.join(', ')})`);
  return { shared, roles, defaultRole };
}

/** The config key for a flag, for messages ("--config roles.reader assumeRoleArn"). */
export function keyForFlag(flag: string): string {
  return Object.entries(CONFIG_KEYS).find(([, k]) => k.flag === flag)?.[0] ?? flag;
}
