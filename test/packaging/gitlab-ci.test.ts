/**
 * The GitLab CI example: valid YAML whose jobs run `rolesanywhere-sidecar exec` with flags
 * the CLI accepts, only on protected refs, using only variables that are documented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { checkArgs, EXEC_FLAGS, findInvocations, knownEnvNames, repoPath } from './cli-flags.js';

const text = readFileSync(repoPath('examples', 'gitlab-ci', '.gitlab-ci.yml'), 'utf8');
const readme = readFileSync(repoPath('examples', 'gitlab-ci', 'README.md'), 'utf8');
const ci = parseYaml(text, { strict: true, uniqueKeys: true }) as Record<string, unknown>;
/** The comment block at the top of the file, which documents the CI/CD variables. */
const header = text.split(/\n(?!#)/)[0]!;

const GLOBAL_KEYWORDS = new Set(['default', 'include', 'stages', 'variables', 'workflow', 'image', 'services', 'cache', 'before_script', 'after_script']);

type Job = Record<string, unknown>;

/** A job with its `extends` applied (top-level keys; enough for script/rules/before_script). */
function resolve(name: string, seen: string[] = []): Job {
  assert.ok(!seen.includes(name), `extends cycle at ${name}`);
  const job = ci[name] as Job | undefined;
  assert.ok(job !== undefined && typeof job === 'object', `no job ${name}`);
  const parents = job.extends === undefined ? [] : Array.isArray(job.extends) ? (job.extends as string[]) : [job.extends as string];
  const merged: Job = {};
  for (const p of parents) Object.assign(merged, resolve(p, [...seen, name]));
  Object.assign(merged, job);
  delete merged.extends;
  return merged;
}

const jobNames = Object.keys(ci).filter((k) => !GLOBAL_KEYWORDS.has(k) && !k.startsWith('.'));
const lines = (v: unknown): string[] => (v === undefined ? [] : (v as unknown[]).map((x) => (Array.isArray(x) ? x.join('\n') : String(x))));

test('the file parses and defines jobs in declared stages', () => {
  assert.ok(jobNames.length >= 2);
  const stages = ci.stages as string[];
  for (const name of jobNames) {
    const job = resolve(name);
    assert.ok(stages.includes(String(job.stage)), `${name}: stage ${String(job.stage)} is declared`);
    assert.ok(Array.isArray(job.script) && job.script.length > 0, `${name}: script`);
  }
});

test('every job runs rolesanywhere-sidecar exec with known flags, an identity and a command', () => {
  for (const name of jobNames) {
    const invocations = lines(resolve(name).script).flatMap((l) => findInvocations(l));
    assert.ok(invocations.length > 0, `${name} runs rolesanywhere-sidecar`);
    for (const inv of invocations) {
      assert.equal(inv.command, 'exec', inv.line);
      assert.deepEqual(checkArgs(inv.args, EXEC_FLAGS), [], inv.line);
      const dd = inv.args.indexOf('--');
      assert.ok(dd > 0 && dd < inv.args.length - 1, `${name}: a command after --`);
      const flags = inv.args.slice(0, dd);
      const fromFiles = flags.includes('--certificate') && flags.includes('--private-key');
      const fromEnv = flags.includes('--certificate-env') && flags.includes('--private-key-env');
      assert.ok(fromFiles || fromEnv, `${name}: certificate and key given`);
      for (const f of ['--certificate-env', '--private-key-env']) {
        if (flags.includes(f)) {
          const v = flags[flags.indexOf(f) + 1]!;
          assert.match(v, /^[A-Z_][A-Z0-9_]*$/, `${f} takes a variable NAME, not its $value`);
          assert.ok(readme.includes(v) && header.includes(v), `${v} is documented in the README and the file header`);
        }
      }
    }
  }
});

test('jobs holding the identity run only on protected refs', () => {
  for (const name of jobNames) {
    const rules = resolve(name).rules as { if?: string }[] | undefined;
    assert.ok(Array.isArray(rules) && rules.length > 0, `${name}: rules`);
    for (const r of rules) assert.match(r.if ?? '', /\$CI_COMMIT_REF_PROTECTED == "true"/, `${name}: every rule requires a protected ref`);
  }
});

test('every variable the jobs use is predefined by GitLab or documented in the file header', () => {
  const declared = new Set(Object.keys(ci.variables ?? {}));
  for (const name of jobNames) {
    const job = resolve(name);
    const used = [...lines(job.before_script), ...lines(job.script)].flatMap((l) => [...l.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
    for (const v of used) {
      if (v.startsWith('CI_') || declared.has(v)) continue;
      assert.match(header, new RegExp(`\\b${v}\\b`), `${name}: $${v} is documented in the header comment`);
    }
  }
  const known = knownEnvNames();
  for (const m of `${text}\n${readme}`.matchAll(/\bROLESANYWHERE_[A-Z0-9_]+/g)) assert.ok(known.has(m[0]), `${m[0]} is read by the CLI`);
});

test('the wrapper installed by before_script runs the package bin', () => {
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { bin: Record<string, string> };
  const before = lines(resolve(jobNames[0]!).before_script).join('\n');
  assert.ok(before.includes(`exec node /opt/rolesanywhere-sidecar/${pkg.bin['rolesanywhere-sidecar']!} "$@"`), before);
  assert.match(before, /\/usr\/local\/bin\/rolesanywhere-sidecar/);
});
