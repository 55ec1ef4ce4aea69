/**
 * The release artifacts of `npm run package`, built once here and run as users run them:
 * the single executable with no `node` on PATH (version, demo, credential-process against
 * the emulator over HTTPS, serve read by real SDK clients through IMDS and the container
 * endpoint).
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { openssl } from '../helpers/openssl-pki.js';
import { buildRelease, EXECUTABLE, pathWithoutNode, VERSION } from '../helpers/release.js';
import { boto3, DEBIAN_PYTHON, hasDebianBotocore, jsV2, jsV3, sdkEnv, type CallerIdentity, type StsTarget } from '../helpers/sdk-clients.js';
import { startServe, type ServeHandle } from '../helpers/serve-fixture.js';

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let home: string;
let sts: StsTarget;

before(async () => {
  await buildRelease();
  pki = await writePki();
  emu = await startTestEmulator(pki, { https: true });
  home = tempDir('ras-release-home-');
  sts = { url: emu.url.href, caPath: pki.tls.caPath };
});

after(async () => {
  await emu?.stop();
  cleanup(home, pki?.dir);
});

/** The executable's environment: no node on PATH, a private HOME, the emulator's settings. */
function noNodeEnv(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({ PATH: pathWithoutNode(), HOME: home, ...extra });
}

function assertIssued(id: CallerIdentity | { accessKeyId: string }): void {
  assert.ok(emu.issued().some((r) => r.accessKeyId === id.accessKeyId), `access key ${id.accessKeyId} was not issued by the emulator`);
}

describe('single executable, with no node on PATH', () => {
  test('the PATH it runs with has no node', () => {
    const path = noNodeEnv().PATH!;
    for (const d of path.split(':')) assert.throws(() => statSync(join(d, 'node')), `${d} has a node`);
  });

  test('version prints the package version', async () => {
    const r = await runCli(['version'], { executable: EXECUTABLE, env: noNodeEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${VERSION}\n`);
    assert.equal(r.stderr, '', 'no SEA warning or other noise on standard error');
  });

  test('demo --once runs on the certs-example material inside the executable', async () => {
    const r = await runCli(['demo', '--once'], { executable: EXECUTABLE, env: noNodeEnv(), timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /arn:aws:sts::\d{12}:assumed-role\//);
  });

  test('credential-process: a CreateSession over HTTPS, then the cache', async () => {
    const env = noNodeEnv(emu.env);
    const first = await runCli(['credential-process', ...sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem])], { executable: EXECUTABLE, env });
    assert.equal(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout) as { Version: number; AccessKeyId: string; Expiration: string };
    assert.equal(a.Version, 1);
    assertIssued({ accessKeyId: a.AccessKeyId });
    const calls = emu.issued().length;
    const second = await runCli(['credential-process', ...sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem])], { executable: EXECUTABLE, env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { AccessKeyId: string }).AccessKeyId, a.AccessKeyId);
    assert.equal(emu.issued().length, calls, 'the second run is a cache hit');
  });

  test('credential-process with a PKCS#12 bundle (node-forge inside the executable)', async () => {
    const p12 = join(pki.dir, 'leaf-ec256.p12');
    await openssl(['pkcs12', '-export', '-in', pki.ec256.cert, '-inkey', pki.ec256.key, '-passout', 'pass:pw-release', '-out', p12]);
    const r = await runCli(['credential-process', '--no-cache', '--certificate', p12], {
      executable: EXECUTABLE,
      env: noNodeEnv({ ...emu.env, ROLESANYWHERE_PKCS8_PASSWORD: 'pw-release' }),
    });
    assert.equal(r.code, 0, r.stderr);
    assertIssued({ accessKeyId: (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId });
  });

  describe('serve, read by SDK clients', () => {
    let serve: ServeHandle;
    before(async () => {
      serve = await startServe(sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem]), { env: noNodeEnv(emu.env), executable: EXECUTABLE });
    });
    after(async () => {
      await serve?.cli.stop();
    });
    const imds = () => ({ AWS_EC2_METADATA_SERVICE_ENDPOINT: serve.exports.AWS_EC2_METADATA_SERVICE_ENDPOINT! });
    const container = () => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: serve.exports.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: serve.exports.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!,
    });
    test('JS v3 fromInstanceMetadata (IMDS)', async () => {
      assertIssued(await jsV3('imds', sdkEnv(home, imds()), sts));
    });
    test('JS v3 fromHttp (container endpoint)', async () => {
      assertIssued(await jsV3('http', sdkEnv(home, container()), sts));
    });
    test('JS v2 ECSCredentials (container endpoint)', async () => {
      assertIssued(await jsV2('ecs', sdkEnv(home, container()), sts));
    });
    test("Debian's botocore, IMDS", async (t) => {
      if (!(await hasDebianBotocore())) return t.skip('python3-botocore is not installed');
      assertIssued(await boto3(DEBIAN_PYTHON, sdkEnv(home, imds()), sts));
    });
    test('SIGTERM: exit 0', async () => {
      const r = await serve.cli.stop('SIGTERM');
      assert.equal(r.code, 0);
    });
  });
});
