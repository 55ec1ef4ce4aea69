/**
 * The CLI surface the packaging drives (Helm chart, systemd unit, GitLab CI example, docs),
 * taken from the CLI's own flag table (src/config/flags.ts), so a flag renamed in the CLI
 * breaks these tests instead of the deployments.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { COMMANDS, envName, flagsFor, type CommandName } from '../../src/config/flags.js';

/** Repository root, from dist/test/packaging/ (compiled) — three levels up. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export interface Flag {
  readonly name: string;
  /** Takes a value (`--flag VALUE`); false for switches like --no-imds. */
  readonly value: boolean;
  readonly default?: string;
}

/** One command's flags, straight from the CLI's own table (src/config/flags.ts). */
function fromTable(command: CommandName): Flag[] {
  return flagsFor(command)
    .filter((f) => f.notSupported !== true)
    .map((f) => ({ name: f.name, value: f.type !== 'boolean', ...(f.default !== undefined ? { default: String(f.default) } : {}) }));
}

export const SERVE_FLAGS: readonly Flag[] = fromTable('serve');
export const EXEC_FLAGS: readonly Flag[] = fromTable('exec');

export const COMMAND_FLAGS: Readonly<Record<string, readonly Flag[]>> = Object.fromEntries(COMMANDS.map((c) => [c, fromTable(c)]));

/** Environment variables the CLI reads that are not a flag's ROLESANYWHERE_<FLAG>. */
export const EXTRA_ENV = ['ROLESANYWHERE_CONTAINER_TOKEN'] as const;

export { envName };

/** Every ROLESANYWHERE_* name the CLI understands (any command). */
export function knownEnvNames(): Set<string> {
  const names = new Set<string>(EXTRA_ENV);
  for (const flags of Object.values(COMMAND_FLAGS)) for (const f of flags) names.add(envName(f.name));
  return names;
}

export function flagNames(flags: readonly Flag[]): Set<string> {
  return new Set(flags.map((f) => f.name));
}

export interface FlagProblem {
  readonly arg: string;
  readonly problem: string;
}

/**
 * Checks one command's argument list: every `--flag` (or `--flag=value`) before a bare `--`
 * is one the command accepts, and a flag that takes a value is given one. Values are not
 * interpreted (they may be shell or template expressions).
 */
export function checkArgs(args: readonly string[], flags: readonly Flag[]): FlagProblem[] {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const problems: FlagProblem[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (spec === undefined) {
      problems.push({ arg, problem: 'unknown flag' });
      continue;
    }
    if (spec.value && eq === -1) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) problems.push({ arg, problem: 'missing value' });
      else i++;
    } else if (!spec.value && eq !== -1) {
      problems.push({ arg, problem: 'switch given a value' });
    }
  }
  return problems;
}

/**
 * Splits a shell command line into words: single and double quotes group, backslash-newline
 * joins. Enough for the command lines in this repository's examples, not a shell.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  const s = line.replace(/\\\r?\n/g, ' ');
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/**
 * Finds `rolesanywhere-sidecar <command> ...` invocations in a text (also through
 * `node .../rolesanywhere-sidecar.js`) and returns the command and the words after it,
 * up to the end of the shell command (a newline not escaped, `;`, `&&`, `|`).
 */
export function findInvocations(text: string): { command: string; args: string[]; line: string }[] {
  const out: { command: string; args: string[]; line: string }[] = [];
  const joined = text.replace(/\\\r?\n/g, ' ');
  const re = /(?:^|[\s"'`(])(?:rolesanywhere-sidecar|\S*\/rolesanywhere-sidecar(?:\.js)?)[ \t]+([a-z][a-z-]*)([^\n]*)/g;
  for (const m of joined.matchAll(re)) {
    const command = m[1]!;
    if (!(command in COMMAND_FLAGS)) continue;
    const rest = m[2]!.split(/\s(?:&&|\|\||;|\|)\s/)[0]!;
    out.push({ command, args: shellWords(rest), line: m[0].trim() });
  }
  return out;
}
