/**
 * The chart's pod run as local processes: the sidecar container's rendered arguments and
 * environment given to the real CLI (paths and ports pointed at a temp dir and free ports,
 * the endpoint at the emulator), its startup probe polled as the kubelet would, and the
 * workload container's rendered environment given to a real SDK that calls STS with the
 * credentials. `valueFrom.secretKeyRef` entries are resolved from a map standing in for the
 * cluster's Secrets.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { cleanup, cliEnv, startCli, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { httpRequest, waitUntil } from '../helpers/serve-fixture.js';
import { jsV3, sdkEnv, type StsTarget } from '../helpers/sdk-clients.js';
import { HelmRenderUnavailable, renderChart, type K8sObject } from '../helm-render/render.js';
import { repoPath } from '../packaging/cli-flags.js';
import { unavailable } from '../helpers/tools.js';

const CHART = repoPath('helm', 'rolesanywhere-sidecar');

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
type Container = {
  name: string;
  args: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  startupProbe?: { httpGet: { path: string; port: string } };
};

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let sts: StsTarget;
const dirs: string[] = [];

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki);
  sts = { url: emu.url.href };
  dirs.push(pki.dir);
});
after(async () => {
  await emu.stop();
  cleanup(...dirs);
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function envOf(c: { env?: EnvVar[] }, secrets: Record<string, Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const v = secrets[e.valueFrom.secretKeyRef.name]?.[e.valueFrom.secretKeyRef.key];
      assert.ok(v !== undefined, `Secret ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key} for ${e.name}`);
      out[e.name] = v;
    } else assert.fail(`env ${e.name} has neither value nor a secretKeyRef`);
  }
  return out;
}

async function runPod(t: TestContext, valuesFile: string, kubeVersion: string, secrets: Record<string, Record<string, string>>): Promise<void> {
  const root = tempDir('ras-helm-pod-');
  dirs.push(root);
  const mount = join(root, 'tls');
  const tokenDir = join(root, 'token');
  mkdirSync(mount);
  mkdirSync(tokenDir, { mode: 0o700 });
  copyFileSync(pki.ec256.cert, join(mount, 'tls.crt'));
  copyFileSync(pki.ec256.key, join(mount, 'tls.key'));
  const [imds, container, ops] = [await freePort(), await freePort(), await freePort()];
  let objects: K8sObject[];
  try {
    const r = renderChart(CHART, {
      kubeVersion,
      valuesFiles: [valuesFile],
      set: [
        `trustAnchorArn=${emu.env.ROLESANYWHERE_TRUST_ANCHOR_ARN!}`,
        `profileArn=${emu.env.ROLESANYWHERE_PROFILE_ARN!}`,
        `roleArn=${emu.env.ROLESANYWHERE_ROLE_ARN!}`,
        `endpoint=${emu.env.ROLESANYWHERE_ENDPOINT!}`,
        `certificate.mountPath=${mount}`,
        `containerEndpoint.tokenDir=${tokenDir}`,
        `ports.imds=${imds}`,
        `ports.container=${container}`,
        `ports.ops=${ops}`,
        'logLevel=debug',
        'region=', // the emulator's region is the trust anchor's; the ci/ file names another
      ],
    });
    assert.ok(r.ok, r.stderr);
    objects = r.docs.map((d) => d.object);
  } catch (e) {
    if (e instanceof HelmRenderUnavailable) return unavailable(t, e.message);
    throw e;
  }
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  const pod = (deployment.spec as { template: { spec: { containers: Container[]; initContainers?: Container[] } } }).template.spec;
  const all = [...(pod.initContainers ?? []), ...pod.containers];
  const sidecar = all.find((c) => c.name === 'rolesanywhere-sidecar')!;
  const workload = all.find((c) => c.name === 'workload')!;

  const cli = startCli(sidecar.args, { env: cliEnv(envOf(sidecar, secrets)) });
  try {
    // The kubelet's startup probe: GET <path> on the named port, on the pod IP; 0.0.0.0
    // includes loopback, where this test reaches it.
    const probe = sidecar.startupProbe!.httpGet;
    const port = sidecar.ports!.find((p) => p.name === probe.port)!.containerPort;
    await waitUntil(
      async () => (await httpRequest(`http://127.0.0.1:${port}${probe.path}`).catch(() => ({ status: 0 }))).status === 200,
      'startup probe 200',
      20_000,
    ).catch((e: Error) => assert.fail(`${e.message}; sidecar said:\n${cli.stderr().slice(-3000)}`));
    assert.doesNotMatch(cli.stderr(), /credential listener is not on loopback/, 'no credential listener left loopback');
    assert.match(cli.stderr(), /"sidecar started"/);

    const home = tempDir('ras-helm-home-');
    dirs.push(home);
    const workloadEnv = envOf(workload, secrets);
    for (const mode of ['chain', 'http'] as const) {
      const id = await jsV3(mode, sdkEnv(home, workloadEnv), sts);
      assert.match(id.arn, /^arn:aws:sts::\d{12}:assumed-role\//, mode);
    }
    const imdsOnly = { AWS_EC2_METADATA_SERVICE_ENDPOINT: workloadEnv.AWS_EC2_METADATA_SERVICE_ENDPOINT };
    assert.match((await jsV3('imds', sdkEnv(home, imdsOnly), sts)).arn, /assumed-role/);
    if (workloadEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE !== undefined) {
      assert.ok(
        readFileSync(workloadEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, 'utf8').length >= 16,
        'the sidecar wrote the token where the workload reads it',
      );
    }
  } finally {
    await cli.stop('SIGTERM');
  }
}

test('ci/demo-values.yaml on Kubernetes 1.30: the native sidecar starts, probes pass, SDKs read credentials through the token file', async (t) => {
  await runPod(t, join(CHART, 'ci', 'demo-values.yaml'), 'v1.30.0', {});
});

test('ci/token-secret-values.yaml: token and proxy URL from Secrets (valueFrom), plain container, IMDSv1 on', async (t) => {
  const token = 'helm-pod-test-token-0123456789abcdef';
  // The proxy is never used: NO_PROXY (also rendered) covers the emulator's 127.0.0.1.
  await runPod(t, join(CHART, 'ci', 'token-secret-values.yaml'), 'v1.28.0', {
    'ra-container-token': { token },
    'egress-proxy': { url: 'http://127.0.0.1:9' },
  });
});
