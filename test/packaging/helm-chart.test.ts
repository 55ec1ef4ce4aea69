/**
 * Checks of the Helm chart that need no helm binary: its YAML files parse, the values
 * schema is a valid (strict) JSON schema that accepts the shipped values and examples and
 * rejects wrong ones, the templates are structurally sound (balanced actions and blocks,
 * every .Values path exists, every include has a define), the sidecar is only ever given
 * flags `serve` accepts, and the README's rendered example agrees with all of that.
 * Rendering is tested in helm-render.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { checkArgs, repoPath, SERVE_FLAGS, flagNames } from './cli-flags.js';

const CHART = repoPath('helm', 'rolesanywhere-sidecar');
const read = (...p: string[]): string => readFileSync(join(CHART, ...p), 'utf8');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing of user values over the chart's: maps merge deeply, anything else replaces, null deletes. */
function coalesce(base: Json, over: Json): Json {
  if (!isObject(base) || !isObject(over)) return over;
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = k in base ? coalesce(base[k]!, v) : v;
  }
  return out;
}

function lookup(root: Json, path: readonly string[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const k of path) {
    if (!isObject(cur) || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function leafPaths(v: Json, prefix: string[] = []): string[][] {
  if (!isObject(v) || Object.keys(v).length === 0) return [prefix];
  return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...prefix, k]));
}

const chart = parseYaml(read('Chart.yaml')) as JsonObject;
const values = parseYaml(read('values.yaml')) as JsonObject;
const schema = JSON.parse(read('values.schema.json')) as JsonObject;
const exampleFiles = readdirSync(join(CHART, 'examples')).filter((f) => /^values-.*\.ya?ml$/.test(f));
const templateFiles = readdirSync(join(CHART, 'templates')).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f));
const templates = new Map(templateFiles.map((f) => [f, read('templates', f)]));
const readme = read('README.md');

const ajv = new Ajv({ strict: true, allErrors: true });
const validate = ajv.compile(schema);
const errorsOf = (v: Json): string => ajv.errorsText(validate(v) ? null : validate.errors);

// ---- (a) YAML files parse -------------------------------------------------------------

test('Chart.yaml: apiVersion v2 application chart, versions in step with the package and image tag', () => {
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.type, 'application');
  assert.equal(chart.name, 'rolesanywhere-sidecar');
  assert.match(String(chart.version), /^\d+\.\d+\.\d+(-[\w.]+)?$/);
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  assert.equal(chart.appVersion, pkg.version, 'appVersion = package.json version');
  assert.equal(lookup(values, ['image', 'tag']), chart.appVersion, 'values image.tag = appVersion');
});

test('values.yaml and every examples/values-*.yaml parse as YAML mappings', () => {
  assert.ok(exampleFiles.length >= 2, 'at least two example values files');
  for (const f of ['values.yaml', ...exampleFiles.map((e) => `examples/${e}`)]) {
    const doc = parseYaml(read(...f.split('/')), { strict: true, uniqueKeys: true }) as unknown;
    assert.ok(isObject(doc), `${f} is a mapping`);
  }
});

// ---- (b) the values schema ---------------------------------------------------------------

test('values.schema.json: every object level states additionalProperties (false unless a free map)', () => {
  // Free-form maps (labels, selectors, resource quantities) and Helm's injected `global`.
  const openMaps = new Set(['/properties/global', '/definitions/stringMap', '/definitions/quantityMap']);
  const problems: string[] = [];
  const walk = (node: Json, path: string): void => {
    if (Array.isArray(node)) return node.forEach((x, i) => walk(x, `${path}/${i}`));
    if (!isObject(node)) return;
    const conditional = /\/(if|then|else)(\/|$)/.test(path);
    if (!conditional && (node.type === 'object' || 'properties' in node)) {
      if (!('additionalProperties' in node)) problems.push(`${path}: no additionalProperties`);
      else if (node.additionalProperties !== false && !openMaps.has(path)) problems.push(`${path}: additionalProperties is not false`);
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`);
  };
  walk(schema, '');
  assert.deepEqual(problems, []);
});

test('the schema accepts values.yaml and every example (merged over values.yaml, as helm does)', () => {
  assert.equal(errorsOf(values), 'No errors');
  for (const f of exampleFiles) {
    const over = parseYaml(read('examples', f)) as Json;
    assert.equal(errorsOf(coalesce(values, over)), 'No errors', f);
  }
});

test('the schema rejects unknown keys, wrong types and malformed ARNs', () => {
  const good = coalesce(values, parseYaml(read('examples', 'values-certmanager.yaml')) as Json);
  assert.equal(errorsOf(good), 'No errors');
  const bad: [string, Json][] = [
    ['unknown top-level key', { roleARN: 'arn:aws:iam::111122223333:role/x' }],
    ['unknown nested key (typo)', { certificate: { secretNmae: 'x' } }],
    ['unknown key deep down', { certManager: { privateKey: { encoding: 'PKCS1' } } }],
    ['string where a number belongs', { sessionDuration: '3600' }],
    ['session duration beyond 12 h', { sessionDuration: 86400 }],
    ['boolean as a string', { sidecar: { native: 'true' } }],
    ['role ARN with a short account', { roleArn: 'arn:aws:iam::1111:role/x' }],
    [
      'profile ARN given where the trust anchor belongs',
      { trustAnchorArn: 'arn:aws:rolesanywhere:eu-west-1:111122223333:profile/6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d' },
    ],
    ['port out of range', { ports: { ops: 70000 } }],
    ['ECDSA with an RSA size', { certManager: { privateKey: { algorithm: 'ECDSA', size: 2048 } } }],
    ['cert-manager without a common name', { certManager: { commonName: '' } }],
    ['log level not in the CLI list', { logLevel: 'verbose' }],
    ['digest not sha256', { image: { digest: 'latest' } }],
    ['extraArgs not strings', { extraArgs: [1] }],
  ];
  for (const [what, over] of bad) {
    assert.equal(validate(coalesce(good, over)), false, `should reject: ${what}`);
  }
  // As a subchart, helm injects `global` and the parent may set `enabled`: both must pass.
  assert.equal(errorsOf(coalesce(good, { global: { imageRegistry: 'r.example' }, enabled: true })), 'No errors');
});

// ---- (c) template structure -----------------------------------------------------------------

const stripComments = (s: string): string => s.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
const actionsOf = (s: string): { body: string; line: number }[] =>
  [...s.matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)].map((m) => ({ body: m[1]!, line: s.slice(0, m.index).split('\n').length }));

test('templates: balanced {{ }} and if/range/with/define ... end blocks, no tabs', () => {
  for (const [file, raw] of templates) {
    assert.ok(!raw.includes('\t'), `${file}: tab character (YAML forbids tabs for indentation)`);
    const s = stripComments(raw);
    assert.equal(s.split('{{').length, s.split('}}').length, `${file}: unbalanced {{ }}`);
    const stack: { kw: string; line: number }[] = [];
    for (const a of actionsOf(s)) {
      assert.ok(!a.body.includes('{{'), `${file}:${a.line}: nested {{`);
      const kw = a.body.split(/\s+/)[0]!;
      if (['if', 'range', 'with', 'define', 'block'].includes(kw)) stack.push({ kw, line: a.line });
      else if (kw === 'else') assert.ok(stack.length > 0 && stack[stack.length - 1]!.kw !== 'define', `${file}:${a.line}: else outside a block`);
      else if (kw === 'end') assert.ok(stack.pop(), `${file}:${a.line}: end without a block`);
    }
    assert.deepEqual(stack, [], `${file}: unclosed blocks`);
  }
});

const allTemplateText = [...templates.values()].map(stripComments).join('\n');
// NOTES.txt holds kubectl commands for the user, not the sidecar's arguments.
const manifestText = [...templates]
  .filter(([f]) => !f.endsWith('.txt'))
  .map(([, s]) => stripComments(s))
  .join('\n');
const defines = new Set([...allTemplateText.matchAll(/\bdefine\s+"([^"]+)"/g)].map((m) => m[1]!));
const includes = new Set([...allTemplateText.matchAll(/\binclude\s+"([^"]+)"/g)].map((m) => m[1]!));
const valueRefs = [...allTemplateText.matchAll(/(?:\$|\B)\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1]!.slice(1).split('.'));

test('templates: every .Values path exists in values.yaml, and every value is used', () => {
  assert.ok(valueRefs.length > 20);
  for (const ref of valueRefs) assert.notEqual(lookup(values, ref), undefined, `.Values.${ref.join('.')} is not in values.yaml`);
  const unusedAllowed = new Set(['enabled']); // read by a parent chart's dependency condition
  for (const leaf of leafPaths(values)) {
    if (unusedAllowed.has(leaf.join('.'))) continue;
    const used = valueRefs.some((r) => r.length <= leaf.length && r.every((k, i) => leaf[i] === k));
    assert.ok(used, `values.yaml ${leaf.join('.')} is never read by a template`);
  }
});

const PUBLIC = [
  'rolesanywhere-sidecar.initContainer',
  'rolesanywhere-sidecar.container',
  'rolesanywhere-sidecar.workloadEnv',
  'rolesanywhere-sidecar.workloadVolumeMounts',
  'rolesanywhere-sidecar.volumes',
];

test('templates: every include names a define, and the public named templates exist', () => {
  for (const name of includes) assert.ok(defines.has(name), `include "${name}" has no define`);
  for (const name of PUBLIC) assert.ok(defines.has(name), `define "${name}"`);
  // The demo Deployment is the reference usage: it includes every public template.
  const demo = templates.get('deployment-demo.yaml') ?? '';
  for (const name of PUBLIC) assert.ok(demo.includes(`include "${name}"`), `deployment-demo.yaml includes ${name}`);
});

/** The text of one define's body. */
function defineBody(name: string): string {
  const start = allTemplateText.indexOf(`define "${name}"`);
  assert.ok(start >= 0, name);
  let depth = 0;
  const re = /\{\{-?\s*(\w+)[\s\S]*?\}\}/g;
  re.lastIndex = allTemplateText.indexOf('}}', start) + 2;
  for (let m = re.exec(allTemplateText); m !== null; m = re.exec(allTemplateText)) {
    if (['if', 'range', 'with', 'define', 'block'].includes(m[1]!)) depth++;
    else if (m[1] === 'end' && depth-- === 0) return allTemplateText.slice(start, m.index);
  }
  assert.fail(`define "${name}" not closed`);
}

test('the sidecar container is hardened and probed on the ops port', () => {
  const spec = defineBody('rolesanywhere-sidecar.containerSpec');
  for (const needle of [
    'runAsNonRoot: true',
    'readOnlyRootFilesystem: true',
    'allowPrivilegeEscalation: false',
    'drop: ["ALL"]',
    'type: RuntimeDefault',
    'path: /readyz',
    'path: /healthz',
    'readinessProbe:',
    'livenessProbe:',
    'resources:',
  ]) {
    assert.ok(spec.includes(needle), `container spec has ${needle}`);
  }
  assert.match(defineBody('rolesanywhere-sidecar.initContainer'), /restartPolicy: Always/, 'native sidecar');
  assert.doesNotMatch(defineBody('rolesanywhere-sidecar.container'), /restartPolicy/);
  assert.match(defineBody('rolesanywhere-sidecar.volumes'), /medium: Memory/, 'token emptyDir in memory');
  assert.doesNotMatch(allTemplateText, /subPath/, 'subPath mounts never see Secret updates');
});

// ---- (d) flags given to the sidecar -----------------------------------------------------------

const serveFlagNames = flagNames(SERVE_FLAGS);
const flagsIn = (s: string): string[] => [...s.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!);

test('templates pass the sidecar only flags that serve accepts, each with its value', () => {
  const used = flagsIn(manifestText);
  assert.ok(used.length > 10);
  for (const f of used) assert.ok(serveFlagNames.has(f), `--${f} is not a serve flag`);
  // Linearize the args define: list items, flags and values in order, control actions dropped.
  const items = defineBody('rolesanywhere-sidecar.args')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2).trim());
  assert.equal(items[0], 'serve');
  assert.deepEqual(checkArgs(items, SERVE_FLAGS), []);
  for (const f of ['certificate', 'private-key', 'trust-anchor-arn', 'profile-arn', 'role-arn', 'ops-address', 'ops-allow-non-loopback']) {
    assert.ok(items.includes(`--${f}`), `args include --${f}`);
  }
  // Credential listeners stay on loopback; only the ops listener may take the pod IP, with
  // the opt-in that lifts its own guard and no other listener's.
  for (const f of ['--allow-non-loopback', '--imds-allow-non-loopback', '--container-allow-non-loopback'])
    assert.ok(!items.includes(f), `args never include ${f}`);
  for (const f of ['--address', '--container-address']) assert.equal(items[items.indexOf(f) + 1], '"127.0.0.1"', `${f} 127.0.0.1`);
  for (const f of exampleFiles) {
    const extra = lookup(parseYaml(read('examples', f)) as Json, ['extraArgs']);
    if (Array.isArray(extra)) assert.deepEqual(checkArgs(extra.map(String), SERVE_FLAGS), [], f);
  }
});

test('workload env: the endpoints every SDK accepts, token, and NO_PROXY', () => {
  const env = defineBody('rolesanywhere-sidecar.workloadEnv');
  for (const name of [
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN',
    'AWS_EC2_METADATA_SERVICE_ENDPOINT',
    'NO_PROXY',
    'no_proxy',
  ]) {
    assert.match(env, new RegExp(`name: ${name}\\n`), name);
  }
  assert.match(env, /"http:\/\/127\.0\.0\.1:%v%s"/, 'container endpoint on 127.0.0.1');
  assert.match(env, /"http:\/\/127\.0\.0\.1:%v\/"/, 'IMDS endpoint with its trailing slash');
  assert.doesNotMatch(env, /AWS_CONTAINER_CREDENTIALS_RELATIVE_URI|AWS_EC2_METADATA_DISABLED/);
  assert.match(String(values.workloadNoProxy), /(^|,)127\.0\.0\.1(,|$)/);
  assert.match(String(values.workloadNoProxy), /(^|,)localhost(,|$)/);
});

// ---- (e) the README -----------------------------------------------------------------------------

const codeBlocks = (md: string, lang: string): string[] => [...md.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

test('README: shows including every public named template, and its values example validates', () => {
  for (const name of PUBLIC) assert.ok(readme.includes(`include "${name}"`), `README shows include "${name}"`);
  const yamlBlocks = codeBlocks(readme, 'yaml').filter((b) => !b.includes('{{'));
  assert.ok(yamlBlocks.length >= 3);
  for (const b of yamlBlocks) {
    for (const d of parseAllDocuments(b)) assert.deepEqual(d.errors, [], b.slice(0, 80));
  }
  const parentValues = yamlBlocks.map((b) => parseYaml(b) as Json).find((d) => isObject(d) && 'rolesanywhere-sidecar' in d) as JsonObject;
  assert.ok(parentValues, 'README has a parent values example');
  assert.equal(errorsOf(coalesce(values, parentValues['rolesanywhere-sidecar']!)), 'No errors');
});

test('README: the rendered example matches the chart (flags, env, names, security)', () => {
  const rendered = codeBlocks(readme, 'yaml')
    .filter((b) => !b.includes('{{'))
    .map((b) => parseYaml(b) as Json)
    .find((d) => isObject(d) && d.kind === 'Deployment');
  assert.ok(rendered, 'README has a rendered Deployment');
  const pod = lookup(rendered, ['spec', 'template', 'spec']) as JsonObject;
  const inits = (pod.initContainers ?? []) as JsonObject[];
  const sidecar = inits.find((c) => c.name === lookup(values, ['sidecar', 'name']));
  assert.ok(sidecar, 'the sidecar is a native sidecar in initContainers');
  assert.equal(sidecar.restartPolicy, 'Always');
  assert.equal(sidecar.image, `${String(lookup(values, ['image', 'repository']))}:${String(chart.appVersion)}`);
  const args = (sidecar.args as Json[]).map(String);
  assert.equal(args[0], 'serve');
  assert.deepEqual(checkArgs(args, SERVE_FLAGS), []);
  const templateFlags = new Set(flagsIn(manifestText));
  for (const f of flagsIn(args.join(' '))) assert.ok(templateFlags.has(f), `rendered --${f} comes from the templates`);
  assert.deepEqual(lookup(sidecar, ['securityContext', 'capabilities', 'drop']), ['ALL']);
  assert.equal(lookup(sidecar, ['securityContext', 'readOnlyRootFilesystem']), true);

  const workload = (pod.containers as JsonObject[]).find((c) => c.name !== sidecar.name)!;
  const envBody = defineBody('rolesanywhere-sidecar.workloadEnv');
  for (const e of workload.env as JsonObject[]) assert.ok(envBody.includes(`name: ${String(e.name)}`), `env ${String(e.name)} comes from workloadEnv`);
  const env = new Map((workload.env as JsonObject[]).map((e) => [e.name, e.value]));
  assert.equal(env.get('AWS_EC2_METADATA_SERVICE_ENDPOINT'), `http://127.0.0.1:${String(lookup(values, ['ports', 'imds']))}/`);
  assert.equal(
    env.get('AWS_CONTAINER_CREDENTIALS_FULL_URI'),
    `http://127.0.0.1:${String(lookup(values, ['ports', 'container']))}${String(lookup(values, ['containerEndpoint', 'path']))}`,
  );
  const tokenFile = env.get('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE');
  assert.equal(args[args.indexOf('--container-token-file') + 1], tokenFile, 'sidecar writes the token where the workload reads it');
  const volumes = pod.volumes as JsonObject[];
  assert.ok(
    volumes.some((v) => lookup(v, ['secret', 'secretName']) === 'orders-rolesanywhere-sidecar-tls'),
    'default Secret name <release>-rolesanywhere-sidecar-tls',
  );
});
