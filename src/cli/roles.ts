/**
 * `--config FILE` read and laid over the command line: one Options per role (see
 * src/config/roles-file.ts for the format and precedence). Commands that serve one role
 * (`credential-process`, `exec`) pick it with `--role-name`.
 */
import { SidecarError, oneLine } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import { readFileBounded } from '../io/files.js';

export interface RoleOptions {
  readonly name: string;
  readonly opts: Options;
  /** The role names its own certificate or key (else it shares the one loaded for all). */
  readonly ownIdentity: boolean;
  readonly isDefault: boolean;
}

/** Every role of `--config`, or undefined without it. */
export async function rolesFrom(opts: Options): Promise<{ roles: RoleOptions[]; shared: Options } | undefined> {
  const path = opts.str('config');
  if (path === undefined || path === '') return undefined;
  // The YAML parser is loaded only when a config file is given.
  const { keyForFlag, MAX_CONFIG_BYTES, parseRolesConfig } = await import('../config/roles-file.js');
  const text = (await readFileBounded(path, { maxBytes: MAX_CONFIG_BYTES })).toString('utf8');
  const cfg = parseRolesConfig(text, path);
  const none = new Map();
  const shared = opts.overlay(cfg.shared, none, (flag) => `${path} ${keyForFlag(flag)}`);
  const roles = cfg.roles.map((r) => ({
    name: r.name,
    opts: opts.overlay(cfg.shared, r.values, (flag, level) =>
      level === 'role' ? `${path} roles.${r.name}.${keyForFlag(flag)}` : `${path} ${keyForFlag(flag)}`,
    ),
    ownIdentity: r.ownIdentity,
    isDefault: r.name === cfg.defaultRole,
  }));
  // The default role first: it is the one served at the usual paths and ports.
  roles.sort((a, b) => Number(b.isDefault) - Number(a.isDefault));
  return { roles, shared };
}

/** The options of one role: `--role-name NAME` of `--config`, its default role, or the command line alone. */
export async function selectRole(opts: Options): Promise<{ name: string; opts: Options }> {
  const all = await rolesFrom(opts);
  const wanted = opts.str('role-name');
  if (all === undefined) {
    if (wanted !== undefined) throw new SidecarError('CONFIG_INVALID', `${opts.origin('role-name')} selects a role of --config, and no --config is given`);
    return { name: 'default', opts };
  }
  const role = wanted === undefined ? all.roles.find((r) => r.isDefault)! : all.roles.find((r) => r.name === wanted);
  if (role === undefined) {
    throw new SidecarError(
      'CONFIG_INVALID',
      `${opts.origin('role-name')} "${oneLine(wanted ?? '', 64)}" is not a role of ${opts.str('config')}: use one of ${all.roles.map((r) => r.name).join(', ')}`,
    );
  }
  return { name: role.name, opts: role.opts };
}
