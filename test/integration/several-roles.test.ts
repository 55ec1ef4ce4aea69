/**
 * Several roles from one `--config`: a chained cross-account role and the base Roles
 * Anywhere role served side by side by one `serve` (container endpoint at /roles/<name>, one
 * IMDS listener per role), read by real SDK clients, each refreshed on its own (an STS
 * outage holds the chained role's credentials while the base role keeps refreshing);
 * `credential-process --role-name`, `exec --role-name` and `update` (one profile per role).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ROLE_ARN } from '../../src/emulator/config.js';
import { cleanup, cliEnv, runCli, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { boto3, findPyenvPython, identityFrom, jsV3, sdkEnv, type StsTarget } from '../helpers/sdk-clients.js';
import { containerCredentials, httpRequest, readyz, startServe, waitUntil, type ServeHandle } from '../helpers/serve-fixture.js';

const TARGET = 'arn:aws:iam::210987654321:role/cross-account-reader';
const JS_V3 = fileURLToPath(new URL('../helpers/sdk/js-v3-client.js', import.meta.url));
const CHAINED = /^arn:aws:sts::210987654321:assumed-role\/cross-account-reader\/reader-session$/;
const BASE = /^arn:aws:sts::123456789012:assumed-role\/rolesanywhere-demo\/[0-9a-f]+$/;

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let dir: string;
let config: string;
let sts: StsTarget;

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki, { https: true, credentialLifetimeSeconds: 30 });
  emu.setStsSettings({ roles: [{ arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN] }] });
  dir = tempDir('ras-roles-');
  config = join(dir, 'roles.yaml');
  writeFileSync(
    config,
    [
      '# one certificate, two roles',
      `certificate: ${pki.rsa.cert}`,
      `privateKey: ${pki.rsa.key}`,
      `intermediates: ${pki.intermediatePem}`,
      `trustAnchorArn: ${emu.env.ROLESANYWHERE_TRUST_ANCHOR_ARN}`,
      `profileArn: ${emu.env.ROLESANYWHERE_PROFILE_ARN}`,
      `roleArn: ${emu.env.ROLESANYWHERE_ROLE_ARN}`,
      'minRemaining: 20',
      'defaultRole: reader',
      'roles:',
      '  reader:',
      `    assumeRoleArn: ${TARGET}`,
      '    assumeRoleSessionName: reader-session',
      `    stsEndpoint: ${emu.url.href}`,
      '    tags: {team: data}',
      '  base: {}',
      '',
    ].join('\n'),
  );
  sts = { url: emu.url.href, caPath: pki.tls.caPath };
});

after(async () => {
  await emu?.stop();
  cleanup(dir, pki?.dir);
});

const sidecarEnv = () => ({ ROLESANYWHERE_ENDPOINT: emu.env.ROLESANYWHERE_ENDPOINT!, ROLESANYWHERE_CA_BUNDLE: pki.tls.caPath });

describe('serve --config with two roles', () => {
  let serve: ServeHandle;
  let roleLines: Record<string, Record<string, string>>;
  before(async () => {
    serve = await startServe(['--config', config], { env: sidecarEnv() });
    await serve.cli.waitForLines(3 + 4);
    roleLines = {};
    for (const l of serve.cli.stdout().split('\n')) {
      const m = /^# role ([\w.-]+): ([A-Z0-9_]+)=(\S+)$/.exec(l);
      if (m) (roleLines[m[1]!] ??= {})[m[2]!] = m[3]!;
    }
    await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'both roles ready', 20_000);
  });
  after(() => serve?.cli.stop());

  const containerVars = (url: string) => ({
    AWS_CONTAINER_CREDENTIALS_FULL_URI: url,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: serve.exports.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!,
  });

  test('each role has its container path and IMDS listener; the default role is also at the usual ones', () => {
    assert.match(roleLines.reader!.AWS_CONTAINER_CREDENTIALS_FULL_URI!, /\/roles\/reader$/);
    assert.match(roleLines.base!.AWS_CONTAINER_CREDENTIALS_FULL_URI!, /\/roles\/base$/);
    assert.equal(roleLines.reader!.AWS_EC2_METADATA_SERVICE_ENDPOINT, serve.exports.AWS_EC2_METADATA_SERVICE_ENDPOINT);
    assert.notEqual(roleLines.base!.AWS_EC2_METADATA_SERVICE_ENDPOINT, roleLines.reader!.AWS_EC2_METADATA_SERVICE_ENDPOINT);
  });

  test('JS v3 and botocore read each role side by side', async () => {
    const home = tempDir('ras-roles-home-');
    try {
      const env = (vars: Record<string, string>) => sdkEnv(home, vars);
      const reader = await jsV3('http', env(containerVars(roleLines.reader!.AWS_CONTAINER_CREDENTIALS_FULL_URI!)), sts);
      const base = await jsV3('http', env(containerVars(roleLines.base!.AWS_CONTAINER_CREDENTIALS_FULL_URI!)), sts);
      assert.match(reader.arn, CHAINED);
      assert.match(base.arn, BASE);
      assert.match(
        (await jsV3('http', env(containerVars(serve.exports.AWS_CONTAINER_CREDENTIALS_FULL_URI!)), sts)).arn,
        CHAINED,
        'the default role at /credentials',
      );
      assert.match((await jsV3('imds', env({ AWS_EC2_METADATA_SERVICE_ENDPOINT: roleLines.base!.AWS_EC2_METADATA_SERVICE_ENDPOINT! }), sts)).arn, BASE);
      assert.match((await jsV3('imds', env({ AWS_EC2_METADATA_SERVICE_ENDPOINT: roleLines.reader!.AWS_EC2_METADATA_SERVICE_ENDPOINT! }), sts)).arn, CHAINED);
      const py = await findPyenvPython();
      if (py !== undefined) {
        const tokenVars = (u: string) => ({ ...containerVars(u), AWS_CONTAINER_AUTHORIZATION_TOKEN: serve.token });
        assert.match((await boto3(py.python, env(tokenVars(roleLines.reader!.AWS_CONTAINER_CREDENTIALS_FULL_URI!)), sts)).arn, CHAINED);
        assert.match((await boto3(py.python, env(tokenVars(roleLines.base!.AWS_CONTAINER_CREDENTIALS_FULL_URI!)), sts)).arn, BASE);
      }
    } finally {
      cleanup(home);
    }
  });

  test('each role refreshes on its own: an STS outage holds the chained role, the base role keeps refreshing', async () => {
    const read = async (role: string) =>
      JSON.parse((await containerCredentials(new URL(roleLines[role]!.AWS_CONTAINER_CREDENTIALS_FULL_URI!), serve.token)).body) as { AccessKeyId?: string };
    const readerBefore = (await read('reader')).AccessKeyId!;
    const baseBefore = (await read('base')).AccessKeyId!;
    emu.setStsSettings({ outage: true });
    try {
      const rejected = emu.stats().assumeRole.rejected;
      await waitUntil(() => emu.stats().assumeRole.rejected > rejected, 'the chained role hits the outage', 30_000);
      await waitUntil(async () => ((await read('base')).AccessKeyId ?? baseBefore) !== baseBefore, 'the base role refreshes meanwhile', 30_000);
      assert.equal((await read('reader')).AccessKeyId, readerBefore, 'the chained role keeps its last credentials');
      assert.equal(emu.issued().find((r) => r.accessKeyId === readerBefore)?.kind, 'assume-role');
    } finally {
      emu.setStsSettings({ outage: false });
    }
    await waitUntil(async () => ((await read('reader')).AccessKeyId ?? readerBefore) !== readerBefore, 'the chained role refreshes after the outage', 40_000);
    const metrics = await httpRequest(new URL('/metrics', serve.ops));
    assert.match(metrics.body, /credentials_issued_total\{role="reader",via="AssumeRole"\} [1-9]/);
    assert.match(metrics.body, /credentials_issued_total\{role="base",via="CreateSession"\} [1-9]/);
  });
});

describe('one role of --config in the one-role commands', () => {
  test('credential-process --role-name picks the role; an unknown name is a one-line error', async () => {
    const reader = await runCli(['credential-process', '--no-cache', '--config', config, '--role-name', 'reader'], { env: cliEnv(sidecarEnv()) });
    assert.equal(reader.code, 0, reader.stderr);
    assert.equal(emu.issued().find((r) => r.accessKeyId === (JSON.parse(reader.stdout) as { AccessKeyId: string }).AccessKeyId)?.roleArn, TARGET);
    const base = await runCli(['credential-process', '--no-cache', '--config', config, '--role-name', 'base'], { env: cliEnv(sidecarEnv()) });
    assert.equal(emu.issued().find((r) => r.accessKeyId === (JSON.parse(base.stdout) as { AccessKeyId: string }).AccessKeyId)?.roleArn, DEFAULT_ROLE_ARN);
    const wrong = await runCli(['credential-process', '--no-cache', '--config', config, '--role-name', 'writer'], { env: cliEnv(sidecarEnv()) });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr.trim(), /^rolesanywhere-sidecar: --role-name "writer" is not a role of .*: use one of reader, base \[CONFIG_INVALID\]$/);
  });

  test('exec --role-name serves that role to the child', async () => {
    const r = await runCli(['exec', '--config', config, '--role-name', 'base', '--', process.execPath, JS_V3, 'chain', sts.url, sts.caPath!], {
      env: cliEnv({ ...sidecarEnv(), HOME: dir }),
    });
    assert.match(identityFrom('exec', r).arn, BASE);
  });

  test('update --once writes one profile per role', async () => {
    const file = join(dir, 'credentials');
    const r = await runCli(['update', '--once', '--config', config], { env: cliEnv({ ...sidecarEnv(), AWS_SHARED_CREDENTIALS_FILE: file }) });
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\[reader\]$/m);
    assert.match(text, /^\[base\]$/m);
    const key = (profile: string) => new RegExp(`\\[${profile}\\][^\\[]*aws_access_key_id = (\\S+)`).exec(text)?.[1];
    assert.equal(emu.issued().find((x) => x.accessKeyId === key('reader'))?.roleArn, TARGET);
    assert.equal(emu.issued().find((x) => x.accessKeyId === key('base'))?.roleArn, DEFAULT_ROLE_ARN);
  });

  test('a config mistake is a one-line error naming the key', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'roles:\n  reader:\n    assumeRoleArm: arn:aws:iam::210987654321:role/x\n');
    const r = await runCli(['credential-process', '--config', bad], { env: cliEnv(sidecarEnv()) });
    assert.equal(r.code, 2);
    assert.match(r.stderr.trim(), /^rolesanywhere-sidecar: .*roles\.reader: unknown key "assumeRoleArm": did you mean "assumeRoleArn"\? \[CONFIG_INVALID\]$/);
  });
});
