/**
 * The packaging docs and comments show command lines users copy: every
 * `rolesanywhere-sidecar <command> ...` in them must use flags that command accepts, and
 * every ROLESANYWHERE_* variable they mention must be one the CLI reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkArgs, COMMAND_FLAGS, findInvocations, knownEnvNames, repoPath } from './cli-flags.js';

const FILES = [
  'Dockerfile',
  'examples/README-container.md',
  'examples/systemd/README.md',
  'examples/systemd/rolesanywhere-sidecar.service',
  'examples/systemd/sidecar.env',
  'examples/systemd/client.env',
  'examples/gitlab-ci/README.md',
  'examples/gitlab-ci/.gitlab-ci.yml',
  'examples/roles/README.md',
  'examples/roles/roles.yaml',
  'helm/rolesanywhere-sidecar/README.md',
  'helm/rolesanywhere-sidecar/values.yaml',
];

const texts = FILES.map((f) => ({ file: f, text: readFileSync(repoPath(...f.split('/')), 'utf8') }));

test('the scanner finds invocations and flags bad ones', () => {
  const found = findInvocations('run:\n  rolesanywhere-sidecar exec --certificate a \\\n  --bogus -- aws s3 ls && echo --x\n');
  assert.equal(found.length, 1);
  assert.equal(found[0]!.command, 'exec');
  assert.deepEqual(checkArgs(found[0]!.args, COMMAND_FLAGS.exec!), [{ arg: '--bogus', problem: 'unknown flag' }]);
  assert.deepEqual(checkArgs(['--region'], COMMAND_FLAGS.exec!), [{ arg: '--region', problem: 'missing value' }]);
  assert.deepEqual(checkArgs(['--debug=1'], COMMAND_FLAGS.exec!), [{ arg: '--debug=1', problem: 'switch given a value' }]);
  // Not an invocation: a unit name, a path, a word on the next line.
  assert.deepEqual(findInvocations('systemctl restart rolesanywhere-sidecar\nserve it\nhelm/rolesanywhere-sidecar/x'), []);
});

test('command lines in the packaging docs use only flags their command accepts', () => {
  let count = 0;
  for (const { file, text } of texts) {
    for (const inv of findInvocations(text)) {
      count++;
      assert.deepEqual(checkArgs(inv.args, COMMAND_FLAGS[inv.command]!), [], `${file}: ${inv.line}`);
    }
  }
  assert.ok(count >= 5, `found ${count} command lines`);
});

test('every ROLESANYWHERE_* variable mentioned is one the CLI reads', () => {
  const known = knownEnvNames();
  for (const { file, text } of texts) {
    for (const m of text.matchAll(/\bROLESANYWHERE_[A-Z0-9_]+\b/g)) assert.ok(known.has(m[0]), `${file}: ${m[0]}`);
  }
});

test("the container docs build with the Dockerfile's build argument", () => {
  const doc = texts.find((t) => t.file === 'examples/README-container.md')!.text;
  const dockerfile = texts.find((t) => t.file === 'Dockerfile')!.text;
  const arg = /^ARG (\w+)=/m.exec(dockerfile)?.[1];
  assert.ok(arg !== undefined);
  assert.match(doc, new RegExp(`--build-arg ${arg}=node:[^\\s@]+@sha256:`));
});
