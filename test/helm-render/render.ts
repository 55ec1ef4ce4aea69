/**
 * Renders a Helm chart with test/helm-render/main.go (a stand-in for `helm template`, see
 * the comment at its top), and validates the rendered objects against the Kubernetes API
 * schemas of `kubernetes-models` (and its cert-manager and prometheus-operator packages for
 * the two custom resources the chart can render).
 *
 * The Go program is built once per source version, offline, from Debian's packages
 * (golang-go, golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v2-dev; `.ci/run`
 * installs them), into a directory under the system temp dir keyed by the source's hash,
 * so concurrent test files and later runs reuse one binary.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

const GO_SOURCE_DIR = new URL('../../../test/helm-render/', import.meta.url);
/** Debian's Go library tree (GOPATH mode, no module download). */
const DEBIAN_GOPATH = '/usr/share/gocode';

export class HelmRenderUnavailable extends Error {}

function goSource(): string {
  return readFileSync(new URL('main.go', GO_SOURCE_DIR), 'utf8');
}

/** Path of the built renderer; builds it on first use. Throws HelmRenderUnavailable without Go. */
export function helmRenderBinary(): string {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new HelmRenderUnavailable(
      'the Go toolchain is not installed (apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev; .ci/run does)',
    );
  }
  if (!existsSync(join(DEBIAN_GOPATH, 'src/github.com/Masterminds/sprig')) || !existsSync(join(DEBIAN_GOPATH, 'src/gopkg.in/yaml.v2'))) {
    throw new HelmRenderUnavailable(
      `sprig or yaml.v2 is missing under ${DEBIAN_GOPATH} (apt-get install golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev)`,
    );
  }
  const hash = createHash('sha256').update(goSource()).update(go.stdout).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `rolesanywhere-sidecar-helm-render-${hash}`);
  const bin = join(dir, 'helm-render');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, 'build-'));
  try {
    const out = join(work, 'helm-render');
    const r = spawnSync('go', ['build', '-o', out, '.'], {
      cwd: GO_SOURCE_DIR,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        GO111MODULE: 'off',
        GOPATH: `${join(work, 'gopath')}:${DEBIAN_GOPATH}`,
        GOCACHE: join(work, 'cache'),
        GOFLAGS: '',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
        CGO_ENABLED: '0',
      },
    });
    if (r.status !== 0) throw new Error(`go build of test/helm-render failed:\n${r.stderr}`);
    renameSync(out, bin); // atomic: a concurrent build's rename simply wins
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  readonly kubeVersion?: string;
  readonly valuesFiles?: readonly string[];
  readonly set?: readonly string[];
  readonly setString?: readonly string[];
  readonly apiVersions?: readonly string[];
}

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

export interface Rendered {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Each document with the template it came from. */
  readonly docs: readonly { source: string; object: K8sObject }[];
  /** Coalesced values per chart path ("parent", "parent/charts/sub"). */
  readonly values: Record<string, unknown>;
}

/**
 * Renders CHART_DIR. Documents are parsed as YAML 1.1, as the API server's and kubectl's
 * YAML reader (sigs.k8s.io/yaml over go-yaml v2) does: `0440` is octal, unique keys required.
 */
export function renderChart(chartDir: string, opts: RenderOptions = {}): Rendered {
  const bin = helmRenderBinary();
  const work = mkdtempSync(join(tmpdir(), 'helm-render-out-'));
  try {
    const valuesOut = join(work, 'values.json');
    const args = ['template', opts.release ?? 'demo', chartDir, '--values-out', valuesOut];
    if (opts.namespace !== undefined) args.push('--namespace', opts.namespace);
    if (opts.kubeVersion !== undefined) args.push('--kube-version', opts.kubeVersion);
    for (const f of opts.valuesFiles ?? []) args.push('-f', f);
    for (const s of opts.set ?? []) args.push('--set', s);
    for (const s of opts.setString ?? []) args.push('--set-string', s);
    for (const a of opts.apiVersions ?? []) args.push('--api-versions', a);
    const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    if (r.status !== 0) return { ok: false, stdout: r.stdout, stderr: r.stderr, docs: [], values: {} };
    const docs: { source: string; object: K8sObject }[] = [];
    // helm's output: "---\n# Source: <template>\n<document>\n" per document.
    const parts = r.stdout.split(/^---\n# Source: (.+)\n/m);
    if (parts[0]!.trim() !== '') throw new Error(`output before the first document: ${parts[0]!.slice(0, 80)}`);
    for (let i = 1; i < parts.length; i += 2) {
      const d = parseDocument(parts[i + 1]!, { version: '1.1', uniqueKeys: true, prettyErrors: false });
      if (d.errors.length > 0) throw new Error(`rendered YAML of ${parts[i]!} does not parse: ${d.errors.map((e) => e.message).join('; ')}`);
      const object = d.toJS() as K8sObject | null;
      if (object !== null) docs.push({ source: parts[i]!, object }); // a comment-only document holds no object
    }
    return { ok: true, stdout: r.stdout, stderr: r.stderr, docs, values: JSON.parse(readFileSync(valuesOut, 'utf8')) as Record<string, unknown> };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

type Validator = { validate(): void };
type ModelClass = new (data: unknown) => Validator;

/** The kubernetes-models class for an apiVersion/kind; a kind the tests do not know fails. */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const pkg =
    group === 'cert-manager.io'
      ? '@kubernetes-models/cert-manager/cert-manager.io'
      : group === 'monitoring.coreos.com'
        ? '@kubernetes-models/prometheus-operator/monitoring.coreos.com'
        : group === ''
          ? 'kubernetes-models'
          : `kubernetes-models/${group!}`;
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^v[0-9a-z]+$/.test(version!)) throw new Error(`no schema for ${apiVersion} ${kind}`);
  const mod = (await import(`${pkg}/${version!}/${kind}`)) as Record<string, unknown>;
  const cls = mod[kind];
  if (typeof cls !== 'function') throw new Error(`no schema for ${apiVersion} ${kind}`);
  return cls as ModelClass;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** What the API server checks that the OpenAPI schema does not: names and labels. */
function metadataProblems(o: K8sObject): string[] {
  const out: string[] = [];
  const name = o.metadata?.name ?? '';
  // Services (and the names of containers, ports and volumes) are RFC 1035/1123 labels.
  const isLabelName = o.kind === 'Service';
  if (isLabelName ? !(name.length <= 63 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) : !(name.length <= 253 && DNS1123_SUBDOMAIN.test(name))) {
    out.push(`${o.kind} name ${JSON.stringify(name)} (${name.length} characters) is not a valid ${isLabelName ? 'DNS-1035 label' : 'DNS-1123 subdomain'}`);
  }
  // Deployments: the ReplicaSet adds "-" and a 10-character hash, its pods 6 more; the pod
  // template hash label must still fit, so names of workloads are kept to 63 here too.
  if (o.kind === 'Deployment' && name.length > 63) out.push(`Deployment name ${name} is longer than 63 characters`);
  const labelMaps: Record<string, unknown>[] = [o.metadata?.labels ?? {}];
  const tmpl = (o as { spec?: { template?: { metadata?: { labels?: Record<string, unknown> } }; selector?: unknown } }).spec;
  if (tmpl?.template?.metadata?.labels) labelMaps.push(tmpl.template.metadata.labels);
  for (const labels of labelMaps) {
    for (const [k, v] of Object.entries(labels)) {
      const slash = k.lastIndexOf('/');
      const prefix = slash >= 0 ? k.slice(0, slash) : '';
      const local = slash >= 0 ? k.slice(slash + 1) : k;
      if ((prefix !== '' && !(prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix))) || !(local.length <= 63 && LABEL_NAME.test(local)))
        out.push(`label key ${k} is invalid`);
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) out.push(`label ${k}=${JSON.stringify(v)} has an invalid value`);
    }
  }
  const pod = (tmpl?.template as { spec?: { containers?: { name: string }[]; initContainers?: { name: string }[]; volumes?: { name: string }[] } } | undefined)
    ?.spec;
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? []), ...(pod?.volumes ?? [])]) {
    if (!(c.name.length <= 63 && DNS1123_LABEL.test(c.name))) out.push(`container or volume name ${c.name} is not a DNS-1123 label`);
  }
  return out;
}

/** Validates every object; returns one message per problem (empty when all are valid). */
export async function validateObjects(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata?.name ?? '?'}`;
    try {
      const Model = await modelFor(o.apiVersion, o.kind);
      new Model(o).validate();
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
    for (const p of metadataProblems(o)) problems.push(`${where}: ${p}`);
  }
  return problems;
}
