/**
 * The Helm chart rendered the way helm renders it (test/helm-render, a Go stand-in for
 * `helm template` built from Debian's sprig), every rendered object validated against the
 * Kubernetes API schemas (kubernetes-models) and the coalesced values against the chart's
 * values.schema.json, as `helm install` does. Covers the default values, every ci/ and
 * examples/ values file, Kubernetes 1.28 against 1.29, long release names, the subchart
 * pattern the chart's README teaches (its own snippets, rendered), label merging, the key's
 * file mode, extraEnv's valueFrom and the listeners' exposure.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Ajv } from 'ajv';
import { checkArgs, repoPath, SERVE_FLAGS } from './cli-flags.js';
import { HelmRenderUnavailable, renderChart, validateObjects, type K8sObject, type Rendered, type RenderOptions } from '../helm-render/render.js';
import { unavailable } from '../helpers/tools.js';

const CHART = repoPath('helm', 'rolesanywhere-sidecar');
const CHART_NAME = 'rolesanywhere-sidecar';
const ciFiles = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .map((f) => join(CHART, 'ci', f));
const exampleFiles = readdirSync(join(CHART, 'examples'))
  .filter((f) => /^values-.*\.ya?ml$/.test(f))
  .map((f) => join(CHART, 'examples', f));
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
const ajv = new Ajv({ strict: true, allErrors: true });
const validateValues = ajv.compile(schema);
const ARNS = [
  'trustAnchorArn=arn:aws:rolesanywhere:eu-west-1:111122223333:trust-anchor/0d5f1a3e-8c1b-4b7a-9a55-2f3c4d5e6f70',
  'profileArn=arn:aws:rolesanywhere:eu-west-1:111122223333:profile/6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d',
  'roleArn=arn:aws:iam::111122223333:role/orders-service',
];

/** Renders, or skips the test where the Go toolchain is missing (never under CI). */
function render(t: TestContext, chartDir: string, opts: RenderOptions = {}): Rendered | undefined {
  try {
    return renderChart(chartDir, opts);
  } catch (e) {
    if (e instanceof HelmRenderUnavailable) {
      unavailable(t, e.message);
      return undefined;
    }
    throw e;
  }
}

/** Renders and checks what `helm install` would: values schema, YAML, API schemas. */
async function renderValid(t: TestContext, chartDir: string, opts: RenderOptions = {}): Promise<K8sObject[] | undefined> {
  const r = render(t, chartDir, opts);
  if (r === undefined) return undefined;
  assert.ok(r.ok, `render failed: ${r.stderr}`);
  const own = Object.entries(r.values).find(([p]) => p === CHART_NAME || p.endsWith(`/charts/${CHART_NAME}`));
  assert.ok(own, 'the chart is rendered');
  assert.ok(validateValues(own[1]), `values.schema.json: ${ajv.errorsText(validateValues.errors)}`);
  const objects = r.docs.map((d) => d.object);
  assert.deepEqual(await validateObjects(objects), []);
  return objects;
}

const find = (objects: readonly K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const one = (objects: readonly K8sObject[], kind: string): K8sObject => {
  const all = find(objects, kind);
  assert.equal(all.length, 1, `one ${kind}`);
  return all[0]!;
};

type Container = {
  name: string;
  args?: string[];
  restartPolicy?: string;
  env?: Record<string, unknown>[];
  ports?: { name?: string }[];
  volumeMounts?: { name: string }[];
};
type PodSpec = { containers: Container[]; initContainers?: Container[]; volumes?: Record<string, unknown>[]; securityContext?: Record<string, unknown> };
const podOf = (d: K8sObject): { labels: Record<string, string>; spec: PodSpec } => {
  const tmpl = (d.spec as { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } }).template;
  return { labels: tmpl.metadata.labels, spec: tmpl.spec };
};
const sidecarOf = (spec: PodSpec): { where: 'initContainers' | 'containers'; c: Container } => {
  const init = (spec.initContainers ?? []).find((c) => c.name === 'rolesanywhere-sidecar');
  if (init) return { where: 'initContainers', c: init };
  const plain = spec.containers.find((c) => c.name === 'rolesanywhere-sidecar');
  assert.ok(plain, 'the sidecar is in the pod');
  return { where: 'containers', c: plain };
};
const subset = (small: Record<string, string>, big: Record<string, string>): boolean => Object.entries(small).every(([k, v]) => big[k] === v);

// ---- defaults, ci/ and examples/ ------------------------------------------------------------

test('the default values render (nothing: the demo is off) and pass the values schema', async (t) => {
  const objects = await renderValid(t, CHART);
  if (objects === undefined) return;
  assert.deepEqual(objects, [], 'a dependency with default values adds no objects of its own');
});

test('the default values with the demo on and no ARNs fail with the message naming the value', (t) => {
  const r = render(t, CHART, { set: ['demo.enabled=true'] });
  if (r === undefined) return;
  assert.equal(r.ok, false);
  assert.match(r.stderr, /set trustAnchorArn/);
});

test('every ci/ and examples/ values file renders valid objects on Kubernetes 1.28 and 1.31', async (t) => {
  assert.ok(ciFiles.length >= 3, 'ci/ values files for chart-testing');
  for (const file of [...ciFiles, ...exampleFiles]) {
    for (const kubeVersion of ['v1.28.9', 'v1.31.0']) {
      const objects = await renderValid(t, CHART, { valuesFiles: [file], kubeVersion, set: ['enabled=true'] });
      if (objects === undefined) return;
      const values = parseYaml(readFileSync(file, 'utf8')) as {
        demo?: { enabled?: boolean };
        certManager?: { enabled?: boolean };
        metrics?: { serviceMonitor?: { enabled?: boolean } };
      };
      assert.equal(find(objects, 'Deployment').length, values.demo?.enabled === true ? 1 : 0, `${file}: demo`);
      assert.equal(find(objects, 'Certificate').length, values.certManager?.enabled === true ? 1 : 0, `${file}: Certificate`);
      assert.equal(find(objects, 'ServiceMonitor').length, values.metrics?.serviceMonitor?.enabled === true ? 1 : 0, `${file}: ServiceMonitor`);
    }
  }
});

// ---- native sidecar by Kubernetes version ----------------------------------------------------

test('sidecar.native auto: a native sidecar from Kubernetes 1.29 (vendor versions too), a plain container below', async (t) => {
  const cases: [string, 'initContainers' | 'containers'][] = [
    ['v1.28.15', 'containers'],
    ['v1.29.0', 'initContainers'],
    ['v1.29.3-eks-adc7111', 'initContainers'],
    ['v1.28.9-gke.1000000', 'containers'],
    ['v1.31.0', 'initContainers'],
  ];
  for (const [kubeVersion, where] of cases) {
    const objects = await renderValid(t, CHART, { kubeVersion, set: [...ARNS, 'demo.enabled=true'] });
    if (objects === undefined) return;
    const { spec } = podOf(one(objects, 'Deployment'));
    const sidecar = sidecarOf(spec);
    assert.equal(sidecar.where, where, kubeVersion);
    assert.equal(sidecar.c.restartPolicy, where === 'initContainers' ? 'Always' : undefined, kubeVersion);
    assert.equal(spec.initContainers, where === 'initContainers' ? spec.initContainers : undefined, `${kubeVersion}: no empty initContainers`);
  }
});

test('sidecar.native true below 1.29 fails at render time; false forces the plain container; below the floor the chart refuses', async (t) => {
  const forced = render(t, CHART, { kubeVersion: 'v1.28.0', set: [...ARNS, 'demo.enabled=true', 'sidecar.native=true'] });
  if (forced === undefined) return;
  assert.equal(forced.ok, false);
  assert.match(forced.stderr, /sidecar\.native=true needs Kubernetes 1\.29 or later, this cluster is v1\.28\.0/);
  const plain = await renderValid(t, CHART, { kubeVersion: 'v1.30.0', set: [...ARNS, 'demo.enabled=true', 'sidecar.native=false'] });
  assert.equal(sidecarOf(podOf(one(plain!, 'Deployment')).spec).where, 'containers');
  const old = render(t, CHART, { kubeVersion: 'v1.24.17', set: [...ARNS, 'demo.enabled=true'] });
  assert.equal(old!.ok, false);
  assert.match(old!.stderr, /chart requires kubeVersion: >=1\.25\.0-0 which is incompatible with Kubernetes v1\.24\.17/);
});

// ---- names ------------------------------------------------------------------------------------------

test('long release names and overrides: every name fits 63 characters and keeps its suffix', async (t) => {
  const release53 = 'a'.repeat(20) + '-' + 'b'.repeat(32); // helm's maximum release name length
  const cases: RenderOptions[] = [
    { release: release53 },
    { release: 'orders', set: [`fullnameOverride=${'f'.repeat(63)}`] },
    { release: 'orders', set: [`nameOverride=${'n'.repeat(70)}`] },
    { release: `${'c'.repeat(30)}-rolesanywhere-sidecar` }, // contains the chart name
  ];
  for (const c of cases) {
    const objects = await renderValid(t, CHART, {
      ...c,
      set: [
        ...ARNS,
        ...(c.set ?? []),
        'demo.enabled=true',
        'metrics.serviceMonitor.enabled=true',
        'certManager.enabled=true',
        'certManager.issuerRef.name=ca',
        'certManager.commonName=orders',
      ],
    });
    if (objects === undefined) return;
    const service = one(objects, 'Service');
    assert.match(service.metadata.name, /-metrics$/);
    assert.match(one(objects, 'Deployment').metadata.name, /-demo$/);
    const secretName = (one(objects, 'Certificate').spec as { secretName: string }).secretName;
    assert.match(secretName, /-tls$/);
    for (const name of [service.metadata.name, one(objects, 'Deployment').metadata.name, secretName, one(objects, 'Certificate').metadata.name]) {
      assert.ok(name.length <= 63, `${name} (${name.length})`);
      assert.doesNotMatch(name, /--/, name);
    }
    // The pod mounts the Secret cert-manager writes.
    const volume = podOf(one(objects, 'Deployment')).spec.volumes!.find((v) => v.name === 'rolesanywhere-tls') as { secret: { secretName: string } };
    assert.equal(volume.secret.secretName, secretName);
  }
  const tooLong = render(t, CHART, { release: 'x'.repeat(54) });
  assert.equal(tooLong!.ok, false, 'helm refuses release names over 53 characters');
});

// ---- the subchart pattern of the README ---------------------------------------------------------------

const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
const yamlBlocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
const README_RELEASE = 'orders';

/** A parent chart made of the README's snippets: Chart.yaml dependencies, values, Deployment. */
function parentChart(extraValues: Record<string, unknown> = {}, template?: string): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'helm-parent-'));
  const dir = join(root, 'orders');
  mkdirSync(join(dir, 'templates'), { recursive: true });
  mkdirSync(join(dir, 'charts'));
  cpSync(CHART, join(dir, 'charts', CHART_NAME), { recursive: true });
  const deps = yamlBlocks
    .filter((b) => !b.includes('{{'))
    .map((b) => parseYaml(b) as Record<string, unknown>)
    .find((d) => d !== null && typeof d === 'object' && 'dependencies' in d);
  assert.ok(deps, 'README shows the dependencies block');
  writeFileSync(join(dir, 'Chart.yaml'), stringifyYaml({ apiVersion: 'v2', name: 'orders', version: '1.4.2', ...deps }));
  const values = yamlBlocks
    .filter((b) => !b.includes('{{'))
    .map((b) => parseYaml(b) as Record<string, Record<string, unknown>>)
    .find((d) => d !== null && typeof d === 'object' && CHART_NAME in d);
  assert.ok(values, 'README shows the parent values');
  values[CHART_NAME] = { ...values[CHART_NAME], ...extraValues };
  writeFileSync(join(dir, 'values.yaml'), stringifyYaml(values));
  const deployment = template ?? yamlBlocks.find((b) => b.includes('{{') && b.includes('kind: Deployment'));
  assert.ok(deployment, 'README shows the Deployment template');
  writeFileSync(join(dir, 'templates', 'deployment.yaml'), deployment);
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('subchart pattern (README): the sidecar in your pod, metrics Service and ServiceMonitor select it', async (t) => {
  const parent = parentChart();
  try {
    for (const kubeVersion of ['v1.28.9', 'v1.30.2']) {
      const objects = await renderValid(t, parent.dir, { release: README_RELEASE, kubeVersion });
      if (objects === undefined) return;
      const deployment = one(objects, 'Deployment');
      assert.equal(deployment.metadata.name, 'orders', 'no demo Deployment in your release');
      const pod = podOf(deployment);
      const sidecar = sidecarOf(pod.spec);
      assert.equal(sidecar.where, kubeVersion === 'v1.28.9' ? 'containers' : 'initContainers');
      const service = one(objects, 'Service');
      const selector = (service.spec as { selector: Record<string, string> }).selector;
      assert.ok(Object.keys(selector).length > 0);
      assert.ok(subset(selector, pod.labels), `Service selector ${JSON.stringify(selector)} matches the pod's labels ${JSON.stringify(pod.labels)}`);
      const targetPort = (service.spec as { ports: { targetPort: string }[] }).ports[0]!.targetPort;
      assert.ok(
        sidecar.c.ports!.some((p) => p.name === targetPort),
        'the Service targets the sidecar ops port by name',
      );
      const monitor = one(objects, 'ServiceMonitor');
      const matchLabels = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      assert.ok(subset(matchLabels, service.metadata.labels!), 'the ServiceMonitor selects the Service');
      const endpoint = (monitor.spec as { endpoints: { port: string }[] }).endpoints[0]!;
      assert.equal(endpoint.port, (service.spec as { ports: { name: string }[] }).ports[0]!.name);
      // The workload reads the token the sidecar writes, and the pod reads the 0440 key.
      const workload = pod.spec.containers.find((c) => c.name === 'orders')!;
      const tokenFile = workload.env!.find((e) => e.name === 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE')!.value;
      assert.equal(sidecar.c.args![sidecar.c.args!.indexOf('--container-token-file') + 1], tokenFile);
      const tls = pod.spec.volumes!.find((v) => v.name === 'rolesanywhere-tls') as { secret: { defaultMode: number; secretName: string } };
      assert.equal(tls.secret.defaultMode, 0o440);
      assert.equal(tls.secret.secretName, 'orders-rolesanywhere-sidecar-tls');
      assert.equal(pod.spec.securityContext!.fsGroup, 65532, "the README's pod sets the fsGroup the key mode needs");
    }
  } finally {
    parent.cleanup();
  }
});

test("subchart pattern: the README's rendered Deployment is what the chart renders", async (t) => {
  const parent = parentChart({ metrics: { serviceMonitor: { enabled: false } } });
  try {
    const objects = await renderValid(t, parent.dir, { release: README_RELEASE, kubeVersion: 'v1.30.2' });
    if (objects === undefined) return;
    const shown = yamlBlocks
      .filter((b) => !b.includes('{{'))
      .map((b) => parseYaml(b, { version: '1.1' }) as K8sObject)
      .find((d) => d?.kind === 'Deployment');
    assert.ok(shown, 'README shows a rendered Deployment');
    assert.deepEqual(one(objects, 'Deployment'), shown);
  } finally {
    parent.cleanup();
  }
});

test('subchart pattern: a context without Capabilities and sidecar.native auto fails with a message', (t) => {
  const template = yamlBlocks.find((b) => b.includes('{{') && b.includes('kind: Deployment'))!.replace(' "Capabilities" .Capabilities', '');
  const parent = parentChart({}, template);
  try {
    const r = render(t, parent.dir, { release: README_RELEASE });
    if (r === undefined) return;
    assert.equal(r.ok, false);
    assert.match(r.stderr, /sidecar\.native is auto, which reads \.Capabilities\.KubeVersion/);
    const forced = render(t, parent.dir, { release: README_RELEASE, set: ['rolesanywhere-sidecar.sidecar.native=true'] });
    assert.ok(forced!.ok, forced!.stderr);
  } finally {
    parent.cleanup();
  }
});

test("subchart pattern: the dependency's condition leaves the subchart's objects out", async (t) => {
  const parent = parentChart({}, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orders\ndata: {}\n');
  try {
    const on = await renderValid(t, parent.dir, { release: README_RELEASE });
    if (on === undefined) return;
    assert.ok(find(on, 'ServiceMonitor').length === 1);
    const off = render(t, parent.dir, { release: README_RELEASE, set: ['rolesanywhere-sidecar.enabled=false'] });
    assert.ok(off!.ok, off!.stderr);
    assert.deepEqual(
      off!.docs.map((d) => d.object.kind),
      ['ConfigMap'],
    );
  } finally {
    parent.cleanup();
  }
});

// ---- labels, key mode, env, exposure ---------------------------------------------------------------------

test('user labels that repeat a standard key appear once, with the user value', async (t) => {
  const objects = await renderValid(t, CHART, {
    set: [
      ...ARNS,
      'metrics.serviceMonitor.enabled=true',
      'metrics.serviceMonitor.labels.app\\.kubernetes\\.io/name=custom',
      'metrics.serviceMonitor.labels.release=prometheus',
    ],
  });
  if (objects === undefined) return; // renderChart parses with unique keys: a duplicate fails there
  const labels = one(objects, 'ServiceMonitor').metadata.labels!;
  assert.equal(labels['app.kubernetes.io/name'], 'custom');
  assert.equal(labels.release, 'prometheus');
  assert.equal(labels['app.kubernetes.io/instance'], 'demo');
  // The Service keeps the chart's labels, so the ServiceMonitor still selects it.
  const matchLabels = (one(objects, 'ServiceMonitor').spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
  assert.ok(subset(matchLabels, one(objects, 'Service').metadata.labels!));
});

test('the key Secret is mounted 0440, read by the demo pod through its fsGroup (the sidecar group)', async (t) => {
  const objects = await renderValid(t, CHART, { set: [...ARNS, 'demo.enabled=true'] });
  if (objects === undefined) return;
  const { spec } = podOf(one(objects, 'Deployment'));
  const tls = spec.volumes!.find((v) => v.name === 'rolesanywhere-tls') as { secret: { defaultMode: number } };
  assert.equal(tls.secret.defaultMode, 0o440);
  const sidecar = sidecarOf(spec).c as Container & { securityContext: { runAsGroup: number } };
  assert.equal(spec.securityContext!.fsGroup, sidecar.securityContext.runAsGroup);
  const mounts = [...spec.containers, ...(spec.initContainers ?? [])].filter((c) => (c.volumeMounts ?? []).some((m) => m.name === 'rolesanywhere-tls'));
  assert.deepEqual(
    mounts.map((c) => c.name),
    ['rolesanywhere-sidecar'],
    'only the sidecar mounts the key',
  );
});

test('extraEnv takes valueFrom (a secret proxy URL) as well as value', async (t) => {
  const file = ciFiles.find((f) => f.endsWith('token-secret-values.yaml'))!;
  const objects = await renderValid(t, CHART, { valuesFiles: [file] });
  if (objects === undefined) return;
  const env = sidecarOf(podOf(one(objects, 'Deployment')).spec).c.env!;
  assert.deepEqual(
    env.find((e) => e.name === 'HTTPS_PROXY'),
    { name: 'HTTPS_PROXY', valueFrom: { secretKeyRef: { name: 'egress-proxy', key: 'url' } } },
  );
  assert.deepEqual(
    env.find((e) => e.name === 'NO_PROXY'),
    { name: 'NO_PROXY', value: '127.0.0.1,localhost,.svc' },
  );
  assert.ok(env.some((e) => e.name === 'ROLESANYWHERE_CONTAINER_TOKEN'));
  const schemaRejects = (extraEnv: unknown): boolean => {
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    return !validateValues({ ...values, extraEnv });
  };
  assert.ok(schemaRejects([{ name: 'A' }]), 'neither value nor valueFrom');
  assert.ok(schemaRejects([{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]), 'both');
  assert.ok(schemaRejects([{ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }]), 'a key reference without its key');
});

test('only the ops listener leaves loopback, with the ops-only opt-in; extraArgs cannot lift the others', async (t) => {
  for (const opsAddress of ['0.0.0.0', '::', '127.0.0.1']) {
    const objects = await renderValid(t, CHART, { set: [...ARNS, 'demo.enabled=true', `opsAddress=${opsAddress}`] });
    if (objects === undefined) return;
    const args = sidecarOf(podOf(one(objects, 'Deployment')).spec).c.args!;
    assert.equal(args[0], 'serve');
    assert.deepEqual(checkArgs(args, SERVE_FLAGS), []);
    assert.equal(args[args.indexOf('--address') + 1], '127.0.0.1');
    assert.equal(args[args.indexOf('--container-address') + 1], '127.0.0.1');
    assert.equal(args[args.indexOf('--ops-address') + 1], opsAddress);
    assert.equal(args.includes('--ops-allow-non-loopback'), opsAddress !== '127.0.0.1', opsAddress);
    for (const f of ['--allow-non-loopback', '--imds-allow-non-loopback', '--container-allow-non-loopback']) assert.ok(!args.includes(f), f);
  }
  const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  for (const bad of ['--allow-non-loopback', '--imds-allow-non-loopback', '--container-allow-non-loopback=true', '--address', '--container-address']) {
    assert.equal(validateValues({ ...values, extraArgs: [bad, '0.0.0.0'] }), false, bad);
  }
  assert.ok(validateValues({ ...values, extraArgs: ['--role-name', 'app'] }), ajv.errorsText(validateValues.errors));
});

// ---- the renderer itself ------------------------------------------------------------------------------

test('helm-render follows helm: --set typing, null deletes a default, globals, include/tpl/required/toYaml/fromYaml/lookup', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'helm-render-self-'));
  try {
    const dir = join(root, 'probe');
    mkdirSync(join(dir, 'templates'), { recursive: true });
    mkdirSync(join(dir, 'charts', 'sub', 'templates'), { recursive: true });
    writeFileSync(
      join(dir, 'Chart.yaml'),
      'apiVersion: v2\nname: probe\nversion: 0.2.0\nappVersion: "9"\ndependencies:\n  - name: sub\n    version: ">=0.1.0"\n    condition: sub.enabled\n',
    );
    writeFileSync(
      join(dir, 'values.yaml'),
      'big: 1000000\nport: 9911\ndropMe: {a: 1}\nkeep: {a: 1, b: 2}\nglobal: {region: eu-west-1}\nsub: {enabled: true, greeting: hi}\nmsg: "{{ .Release.Name }}-{{ .Values.port }}"\n',
    );
    writeFileSync(join(dir, 'templates', '_h.tpl'), '{{- define "probe.name" -}}{{ .Chart.Name }}-{{ .Release.Name }}{{- end -}}\n');
    writeFileSync(
      join(dir, 'templates', 'cm.yaml'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: {{ include "probe.name" . }}',
        'data:',
        '  big: {{ .Values.big | quote }}',
        '  port: {{ .Values.port | quote }}',
        '  setInt: {{ kindOf .Values.setInt | quote }}',
        '  setStr: {{ kindOf .Values.setStr | quote }}',
        '  dropped: {{ hasKey .Values "dropMe" | quote }}',
        '  keep: {{ toJson .Values.keep | quote }}',
        '  tpl: {{ tpl .Values.msg . | quote }}',
        '  roundTrip: {{ (fromYaml (toYaml .Values.keep)).b | quote }}',
        '  lookup: {{ lookup "v1" "Secret" "ns" "x" | len | quote }}',
        '  kube: {{ .Capabilities.KubeVersion.Minor | quote }}',
        '  crd: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}',
        '  chart: {{ printf "%s@%s" .Chart.Name .Chart.AppVersion | quote }}',
        '  template: {{ .Template.Name | quote }}',
        '  missing: "{{ .Values.nothing }}"',
        '---',
        '# a comment-only document: printed by helm, no object',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'templates', 'NOTES.txt'), '{{ required "notes render too" .Values.notes }}');
    writeFileSync(join(dir, 'charts', 'sub', 'Chart.yaml'), 'apiVersion: v2\nname: sub\nversion: 0.1.0\n');
    writeFileSync(join(dir, 'charts', 'sub', 'values.yaml'), 'greeting: hello\nown: x\n');
    writeFileSync(
      join(dir, 'charts', 'sub', 'templates', 's.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n  own: {{ .Values.own }}\n  region: {{ .Values.global.region }}\n',
    );
    const opts: RenderOptions = {
      release: 'r',
      kubeVersion: '1.30.1',
      set: ['setInt=0012', 'dropMe=null', 'notes=x', 'setStr=true'],
      setString: ['setStr=true'],
      apiVersions: ['monitoring.coreos.com/v1'],
    };
    const r = render(t, dir, opts);
    if (r === undefined) return;
    assert.ok(r.ok, r.stderr);
    const [top, sub] = [r.docs.find((d) => d.object.metadata.name === 'probe-r')!, r.docs.find((d) => d.object.metadata.name === 'sub')!];
    assert.equal(top.source, 'probe/templates/cm.yaml');
    assert.equal(sub.source, 'probe/charts/sub/templates/s.yaml');
    assert.deepEqual(top.object.data, {
      big: '1e+06', // values are read through JSON: numbers are float64, printed with %v (helm does the same)
      port: '9911',
      setInt: 'string', // "0012" keeps its leading zero, as strvals does
      setStr: 'string',
      dropped: 'false',
      keep: '{"a":1,"b":2}',
      tpl: 'r-9911',
      roundTrip: '2',
      lookup: '0',
      kube: '30',
      crd: 'true',
      chart: 'probe@9',
      template: 'probe/templates/cm.yaml',
      missing: '',
    });
    assert.deepEqual(sub.object.data, { greeting: 'hi', own: 'x', region: 'eu-west-1' });
    assert.equal(r.docs.length, 2);
    const notes = render(t, dir, { ...opts, set: ['notes=null'] });
    assert.equal(notes!.ok, false, 'NOTES.txt is rendered, so its errors count');
    assert.match(notes!.stderr, /notes render too/);
    const off = render(t, dir, { ...opts, set: [...opts.set!, 'sub.enabled=false'] });
    assert.deepEqual(
      off!.docs.map((d) => d.object.metadata.name),
      ['probe-r'],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
