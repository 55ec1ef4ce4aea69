/**
 * argv + environment -> raw option values for one command, checked against the flag table.
 * Precedence: flags over environment over defaults. The environment is passed in, so this
 * module stays pure; src/cli is the only place that hands it process.env.
 */
import { SidecarError, oneLine } from '../core/errors.js';
import { readEnvironment, type EnvironmentSettings } from './environment.js';
import { envName, flagsFor, type CommandName, type FlagSpec } from './flags.js';

export type OptionValue = string | number | boolean;

export interface ParsedArgs {
  readonly command: CommandName;
  /** Values by flag name; defaults applied. */
  readonly values: ReadonlyMap<string, OptionValue>;
  /** Where each value came from, for error messages: `--flag` or the env variable's name. */
  readonly origin: ReadonlyMap<string, string>;
  /** Arguments after `--` (exec). */
  readonly rest: readonly string[];
  readonly help: boolean;
  /** The SDK-standard variables (AWS_CA_BUNDLE, proxies, FIPS...), read once. */
  readonly environment: EnvironmentSettings;
}

export type Env = Readonly<Record<string, string | undefined>>;

const MAX_ARG_LENGTH = 64 * 1024;

function convert(spec: FlagSpec, raw: string, origin: string): OptionValue {
  if (raw.length > MAX_ARG_LENGTH) {
    throw new SidecarError('INPUT_TOO_LARGE', `${origin} is longer than ${MAX_ARG_LENGTH} characters: pass a file path instead`);
  }
  switch (spec.type) {
    case 'string':
      return raw;
    case 'number': {
      if (!/^-?\d{1,15}$/.test(raw.trim())) {
        throw new SidecarError('CONFIG_INVALID', `${origin} must be a whole number, got "${oneLine(raw, 120)}"`);
      }
      return Number(raw.trim());
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on', ''].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new SidecarError('CONFIG_INVALID', `${origin} must be true or false, got "${oneLine(raw, 120)}"`);
    }
  }
}

/**
 * `sdkEnv` is where the SDK-standard variables come from; `env` (the `ROLESANYWHERE_<FLAG>`
 * values) by default. `demo` passes no flag variables but the real environment.
 */
export function parseArgs(command: CommandName, argv: readonly string[], env: Env, sdkEnv: Env = env): ParsedArgs {
  const specs = flagsFor(command);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, OptionValue>();
  const origin = new Map<string, string>();
  let rest: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (arg === '-h' || arg === '--help' || arg === 'help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (command === 'exec') {
        rest = argv.slice(i);
        break;
      }
      throw new SidecarError('CONFIG_INVALID', `unexpected argument "${oneLine(arg, 120)}" for ${command}: see "rolesanywhere-sidecar ${command} --help"`);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (spec === undefined) {
      throw new SidecarError('CONFIG_INVALID', `unknown flag --${oneLine(name, 120)} for ${command}: see "rolesanywhere-sidecar ${command} --help"`);
    }
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new SidecarError('CONFIG_INVALID', `flag --${name} needs a value (${spec.arg ?? 'VALUE'})`);
      }
      raw = next;
      i++;
    }
    const value = convert(spec, raw, `--${name}`);
    const earlier = values.get(name);
    values.set(name, spec.repeatable === true && earlier !== undefined ? `${String(earlier)},${String(value)}` : value);
    origin.set(name, `--${name}`);
  }

  for (const spec of specs) {
    const e = envName(spec.name);
    const raw = env[e];
    if (spec.noEnv === true) {
      if (raw !== undefined && raw !== '') {
        throw new SidecarError(
          'CONFIG_INVALID',
          `${e} is not read from the environment, because it lowers security where nobody sees it: pass --${spec.name} on the command line instead, or unset ${e}`,
        );
      }
      continue;
    }
    if (values.has(spec.name)) continue;
    if (raw !== undefined && raw !== '') {
      values.set(spec.name, convert(spec, raw, e));
      origin.set(spec.name, e);
    }
  }

  for (const spec of specs) {
    if (spec.notSupported === true && values.has(spec.name)) {
      throw new SidecarError(
        'NOT_SUPPORTED',
        spec.refusal !== undefined
          ? `${origin.get(spec.name)} is not supported on Linux: it ${spec.refusal}`
          : `${origin.get(spec.name)} is not supported yet by rolesanywhere-sidecar: ${spec.help.replace(/ \(not supported yet.*$/, '')} needs a PEM, DER or PKCS#12 certificate and key file instead`,
      );
    }
    if (!values.has(spec.name) && spec.default !== undefined) values.set(spec.name, spec.default);
  }

  return { command, values, origin, rest, help, environment: readEnvironment(sdkEnv) };
}

/** Typed accessors with "missing" errors that name the flag and its variable. */
export class Options {
  constructor(readonly parsed: ParsedArgs) {}

  get environment(): EnvironmentSettings {
    return this.parsed.environment;
  }

  has(name: string): boolean {
    return this.parsed.values.has(name);
  }

  str(name: string): string | undefined {
    const v = this.parsed.values.get(name);
    return v === undefined ? undefined : String(v);
  }

  num(name: string): number | undefined {
    const v = this.parsed.values.get(name);
    return typeof v === 'number' ? v : undefined;
  }

  bool(name: string): boolean {
    return this.parsed.values.get(name) === true;
  }

  /**
   * These options with a config file's values laid over them (src/config/roles-file.ts):
   * `shared` fills only what no flag or variable set, `role` wins over everything. `origins`
   * names where each value came from, for error messages.
   */
  overlay(
    shared: ReadonlyMap<string, OptionValue>,
    role: ReadonlyMap<string, OptionValue>,
    origins: (flag: string, level: 'shared' | 'role') => string,
  ): Options {
    const values = new Map(this.parsed.values);
    const origin = new Map(this.parsed.origin);
    for (const [k, v] of shared) {
      if (origin.has(k)) continue;
      values.set(k, v);
      origin.set(k, origins(k, 'shared'));
    }
    for (const [k, v] of role) {
      values.set(k, v);
      origin.set(k, origins(k, 'role'));
    }
    return new Options({ ...this.parsed, values, origin });
  }

  origin(name: string): string {
    return this.parsed.origin.get(name) ?? `--${name}`;
  }

  required(name: string): string {
    const v = this.str(name);
    if (v === undefined || v === '') {
      throw new SidecarError(
        'CONFIG_INVALID',
        `missing --${name} (or ${envName(name)}) for ${this.parsed.command}: see "rolesanywhere-sidecar ${this.parsed.command} --help"`,
      );
    }
    return v;
  }

  /** A number within [min, max], with an error naming where the value came from. */
  ranged(name: string, min: number, max: number): number | undefined {
    const v = this.num(name);
    if (v !== undefined && (v < min || v > max)) {
      throw new SidecarError('CONFIG_INVALID', `${this.origin(name)} must be between ${min} and ${max}, got ${v}`);
    }
    return v;
  }
}
