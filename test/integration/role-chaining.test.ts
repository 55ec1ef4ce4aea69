/**
 * Role chaining end to end: the real CLI does CreateSession and then STS AssumeRole against
 * the HTTPS emulator, and unmodified SDK clients (JS v3, botocore current and 1.29, AWS CLI
 * v1 and 2.9) read the chained credentials through IMDS, the container endpoint,
 * credential_process and exec. GetCallerIdentity with them must name the target account's
 * assumed role, and the emulator must have issued them through AssumeRole, never the base
 * Roles Anywhere session. Refusals (external id, trust, duration, policy) are one-line CLI
 * errors or a 503 with the reason and /readyz not ready; an STS outage keeps the last
 * chained credentials.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ROLE_ARN } from '../../src/emulator/config.js';
import { cleanup, cliEnv, REPO_ROOT, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import {
  awsCli,
  boto3,
  DEBIAN_AWS,
  DEBIAN_PYTHON,
  findPyenvPython,
  hasDebianAwsCli,
  hasDebianBotocore,
  identityFrom,
  jsV3,
  sdkEnv,
  type StsTarget,
} from '../helpers/sdk-clients.js';
import { containerCredentials, httpRequest, imdsToken, readyz, startServe, waitUntil, type ServeHandle } from '../helpers/serve-fixture.js';
import { unavailable } from '../helpers/tools.js';

const TARGET = 'arn:aws:iam::210987654321:role/cross-account-reader';
const VENDOR = 'arn:aws:iam::345678901234:role/vendor-access';
const UNTRUSTING = 'arn:aws:iam::210987654321:role/admins-only';
const JS_V3 = fileURLToPath(new URL('../helpers/sdk/js-v3-client.js', import.meta.url));
const CHAINED_ARN = /^arn:aws:sts::210987654321:assumed-role\/cross-account-reader\/leaf-rsa$/;

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let home: string;
let sts: StsTarget;
let pyenv: { python: string; aws?: string } | undefined;
let debianBotocore = false;
let debianAws = false;

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki, { https: true });
  emu.setStsSettings({
    roles: [
      { arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN] },
      { arn: VENDOR, trustedPrincipals: ['arn:aws:iam::123456789012:root'], externalId: 'customer-7f3a' },
      { arn: UNTRUSTING, trustedPrincipals: ['arn:aws:iam::210987654321:role/break-glass'] },
    ],
  });
  home = tempDir('ras-chain-home-');
  sts = { url: emu.url.href, caPath: pki.tls.caPath };
  [pyenv, debianBotocore, debianAws] = await Promise.all([findPyenvPython(), hasDebianBotocore(), hasDebianAwsCli()]);
});

after(async () => {
  await emu?.stop();
  cleanup(home, pki?.dir);
});

/** The RSA leaf is under the intermediate; STS is the emulator (same CA bundle as CreateSession). */
const chainArgs = (extra: readonly string[] = []) => sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem, '--sts-endpoint', emu.url.href, ...extra]);

function assertChained(id: { arn: string; accessKeyId?: string }): void {
  assert.match(id.arn, CHAINED_ARN);
  if (id.accessKeyId !== undefined) {
    const rec = emu.issued().find((r) => r.accessKeyId === id.accessKeyId);
    assert.equal(rec?.kind, 'assume-role', 'served credentials come from AssumeRole');
    assert.equal(rec?.sourceRoleArn, DEFAULT_ROLE_ARN);
  }
}

describe('serve with --assume-role-arn', () => {
  let serve: ServeHandle;
  let imdsVars: Record<string, string>;
  let containerVars: Record<string, string>;
  before(async () => {
    serve = await startServe(chainArgs(['--assume-role-arn', TARGET]), { env: emu.env });
    imdsVars = { AWS_EC2_METADATA_SERVICE_ENDPOINT: serve.exports.AWS_EC2_METADATA_SERVICE_ENDPOINT! };
    containerVars = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: serve.exports.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: serve.exports.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: serve.token,
    };
    await waitUntil(async () => (await containerCredentials(serve.container!, serve.token)).status === 200, 'the first chained credentials');
  });
  after(() => serve?.cli.stop());
  const env = (vars: Record<string, string>) => sdkEnv(home, vars);

  test('JS v3 through IMDS and the container endpoint', async () => {
    assertChained(await jsV3('imds', env(imdsVars), sts));
    assertChained(await jsV3('http', env(containerVars), sts));
  });
  test('botocore (current and Debian 1.29) through IMDS and the container endpoint', async (t) => {
    if (pyenv === undefined) unavailable(t, 'no pyenv python3 with botocore on PATH');
    else {
      assertChained(await boto3(pyenv.python, env(imdsVars), sts));
      assertChained(await boto3(pyenv.python, env(containerVars), sts));
    }
    if (!debianBotocore) unavailable(t, `${DEBIAN_PYTHON} with python3-botocore is not installed (CI installs it)`);
    else {
      assertChained(await boto3(DEBIAN_PYTHON, env(imdsVars), sts));
      assertChained(await boto3(DEBIAN_PYTHON, env(containerVars), sts));
    }
  });
  test('AWS CLI v1 and 2.9 through IMDS and the container endpoint', async (t) => {
    if (pyenv?.aws === undefined) unavailable(t, 'no AWS CLI v1 beside the pyenv python3');
    else {
      assertChained(await awsCli([pyenv.python, pyenv.aws], env(imdsVars), sts));
      assertChained(await awsCli([pyenv.python, pyenv.aws], env(containerVars), sts));
    }
    if (!debianAws) unavailable(t, `${DEBIAN_AWS} (awscli 2.9) is not installed (CI installs it)`);
    else {
      assertChained(await awsCli([DEBIAN_PYTHON, DEBIAN_AWS], env(imdsVars), sts));
      assertChained(await awsCli([DEBIAN_PYTHON, DEBIAN_AWS], env(containerVars), sts));
    }
  });
  test('IMDS names the chained role', async () => {
    const token = await imdsToken(serve.imds!, 60);
    const name = await httpRequest(new URL('/latest/meta-data/iam/security-credentials/', serve.imds), { headers: { 'x-aws-ec2-metadata-token': token } });
    assert.equal(name.body, 'cross-account-reader');
  });
});

describe('credential_process and exec with chaining', () => {
  test('JS v3, botocore and the AWS CLI through a credential_process profile (STS from AWS_ENDPOINT_URL_STS)', async () => {
    const cacheDir = tempDir('ras-chain-cache-');
    const config = join(home, 'config-chained');
    const args = [
      process.execPath,
      join(REPO_ROOT, 'dist', 'cmd', 'rolesanywhere-sidecar.js'),
      'credential-process',
      ...sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem]),
      '--assume-role-arn',
      TARGET,
      '--cache-dir',
      cacheDir,
    ];
    writeFileSync(config, `[profile chained]\ncredential_process = ${args.join(' ')}\n`);
    const vars = { ...emu.env, AWS_ENDPOINT_URL_STS: emu.url.href, AWS_CONFIG_FILE: config, AWS_PROFILE: 'chained' };
    try {
      const env = { ...sdkEnv(home, {}), ...vars };
      assertChained(await jsV3('chain', env, sts));
      if (pyenv !== undefined) assertChained(await boto3(pyenv.python, env, sts));
      if (debianBotocore) assertChained(await boto3(DEBIAN_PYTHON, env, sts));
      if (pyenv?.aws !== undefined) assertChained(await awsCli([pyenv.python, pyenv.aws], env, sts));
      if (debianAws) assertChained(await awsCli([DEBIAN_PYTHON, DEBIAN_AWS], env, sts));
    } finally {
      cleanup(cacheDir);
    }
  });

  test('exec hands the chained credentials to the child', async () => {
    const r = await runCli(
      [
        'exec',
        ...chainArgs(['--assume-role-arn', TARGET, '--assume-role-session-name', 'ci-job-42', '--tags', 'team=data,env=ci', '--transitive-tag-keys', 'team']),
        '--',
        process.execPath,
        JS_V3,
        'chain',
        sts.url,
        sts.caPath!,
      ],
      {
        env: cliEnv({ ...emu.env, HOME: home }),
      },
    );
    const id = identityFrom('exec', { code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
    assert.equal(id.arn, 'arn:aws:sts::210987654321:assumed-role/cross-account-reader/ci-job-42');
    const rec = emu.issued().find((x) => x.accessKeyId === id.accessKeyId);
    assert.equal(rec?.kind, 'assume-role');
    assert.deepEqual(rec?.transitiveTags, { team: 'data' });
    assert.deepEqual(rec?.tags, { team: 'data', env: 'ci' });
  });
});

describe('refusals', () => {
  const credentialProcess = (extra: readonly string[]) => runCli(['credential-process', '--no-cache', ...chainArgs(extra)], { env: cliEnv(emu.env) });
  const oneLineError = (r: { code: number | null; stdout: string; stderr: string }, code: string, re: RegExp) => {
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^rolesanywhere-sidecar: .*\\[${code}\\]$`));
    assert.match(lines[0]!, re);
  };

  test('a wrong or missing external id: ASSUME_ROLE_DENIED; the right one works', async () => {
    oneLineError(
      await credentialProcess(['--assume-role-arn', VENDOR, '--external-id', 'customer-0000']),
      'ASSUME_ROLE_DENIED',
      /trust policy .*--external-id/,
    );
    oneLineError(await credentialProcess(['--assume-role-arn', VENDOR]), 'ASSUME_ROLE_DENIED', /AccessDenied/);
    const ok = await credentialProcess(['--assume-role-arn', VENDOR, '--external-id', 'customer-7f3a']);
    assert.equal(ok.code, 0, ok.stderr);
    const rec = emu.issued().find((x) => x.accessKeyId === (JSON.parse(ok.stdout) as { AccessKeyId: string }).AccessKeyId);
    assert.equal(rec?.assumedRoleArn, 'arn:aws:sts::345678901234:assumed-role/vendor-access/leaf-rsa');
    assert.equal(rec?.externalIdUsed, true);
  });
  test('an untrusted source role: ASSUME_ROLE_DENIED', async () => {
    oneLineError(await credentialProcess(['--assume-role-arn', UNTRUSTING]), 'ASSUME_ROLE_DENIED', /not authorized to perform: sts:AssumeRole/);
  });
  test('an over-long duration is refused before any call, naming the one-hour chaining cap', async () => {
    oneLineError(
      await credentialProcess(['--assume-role-arn', TARGET, '--assume-role-duration', '7200']),
      'CONFIG_INVALID',
      /role chaining\) lasts at most one hour/,
    );
  });
  test('a malformed session policy: invalid JSON locally, a grammar error from STS', async () => {
    const dir = tempDir('ras-chain-policy-');
    try {
      writeFileSync(join(dir, 'bad.json'), '{"Statement": [');
      oneLineError(await credentialProcess(['--assume-role-arn', TARGET, '--session-policy-file', join(dir, 'bad.json')]), 'CONFIG_INVALID', /not valid JSON/);
      writeFileSync(join(dir, 'grammar.json'), JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject' }] }));
      oneLineError(
        await credentialProcess(['--assume-role-arn', TARGET, '--session-policy-file', join(dir, 'grammar.json')]),
        'ASSUME_ROLE_INVALID',
        /MalformedPolicyDocument.*Resource/,
      );
    } finally {
      cleanup(dir);
    }
  });
  test('serve: a denied AssumeRole is a 503 with the reason and /readyz not ready, never the base credentials', async () => {
    const serve = await startServe(chainArgs(['--assume-role-arn', VENDOR, '--external-id', 'customer-0000']), { env: emu.env });
    try {
      let answer = await containerCredentials(serve.container!, serve.token);
      await waitUntil(async () => {
        answer = await containerCredentials(serve.container!, serve.token);
        return /ASSUME_ROLE_DENIED/.test(answer.body);
      }, 'the 503 names the AssumeRole refusal');
      assert.equal(answer.status, 503);
      assert.match(
        (JSON.parse(answer.body) as { message: string }).message,
        /last error ASSUME_ROLE_DENIED: STS refused AssumeRole of arn:aws:iam::345678901234:role\/vendor-access/,
      );
      const ready = await readyz(serve.ops!);
      assert.equal(ready.status, 503);
      assert.match(ready.body, /ASSUME_ROLE_DENIED/);
    } finally {
      await serve.cli.stop();
    }
  });
});

describe('audit', () => {
  test('each issuance is one log line, a metric per role and a 0600 audit-file line, never a secret', async () => {
    const dir = tempDir('ras-chain-audit-');
    const auditLog = join(dir, 'audit.jsonl');
    const serve = await startServe(chainArgs(['--assume-role-arn', TARGET, '--assume-role-session-name', 'break-glass-ops', '--audit-log', auditLog]), {
      env: emu.env,
    });
    try {
      await waitUntil(async () => (await containerCredentials(serve.container!, serve.token)).status === 200, 'chained credentials');
      const served = JSON.parse((await containerCredentials(serve.container!, serve.token)).body) as {
        AccessKeyId: string;
        SecretAccessKey: string;
        Token: string;
      };
      await waitUntil(() => existsSync(auditLog) && readFileSync(auditLog, 'utf8').includes(served.AccessKeyId), 'the audit line');
      assert.equal(statSync(auditLog).mode & 0o777, 0o600);
      const records = readFileSync(auditLog, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const rec = records.find((r) => r.accessKeyId === served.AccessKeyId)!;
      assert.equal(rec.event, 'credentials-issued');
      assert.equal(rec.role, 'default');
      assert.equal(rec.via, 'AssumeRole');
      assert.equal(rec.roleArn, TARGET);
      assert.equal(rec.sessionName, 'break-glass-ops');
      assert.equal(rec.assumedRoleArn, 'arn:aws:sts::210987654321:assumed-role/cross-account-reader/break-glass-ops');
      assert.equal(rec.sourceIdentity, 'CN=leaf-rsa');
      assert.equal(rec.baseRoleArn, DEFAULT_ROLE_ARN);
      assert.ok(Date.parse(String(rec.expiration)) > Date.now());
      const logged = serve.cli.stderr();
      assert.ok(
        logged.split('\n').some((l) => l.includes('"msg":"credentials issued"') && l.includes(served.AccessKeyId)),
        'one structured log line',
      );
      for (const text of [logged, readFileSync(auditLog, 'utf8')]) {
        assert.ok(!text.includes(served.SecretAccessKey), 'no secret key');
        assert.ok(!text.includes(served.Token.slice(20, 80)), 'no session token');
      }
      const metrics = await httpRequest(new URL('/metrics', serve.ops));
      assert.match(metrics.body, /rolesanywhere_sidecar_credentials_issued_total\{role="default",via="AssumeRole"\} [1-9]/);
    } finally {
      await serve.cli.stop();
      cleanup(dir);
    }
  });
});

describe('an STS outage', () => {
  test('keeps the last chained credentials (never the base role) and recovers', async () => {
    const short = await startTestEmulator(pki, { https: true, credentialLifetimeSeconds: 30 });
    short.setStsSettings({ roles: [{ arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN] }] });
    const serve = await startServe(
      sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem, '--sts-endpoint', short.url.href, '--assume-role-arn', TARGET, '--min-remaining', '20']),
      { env: short.env },
    );
    try {
      const read = async () => JSON.parse((await containerCredentials(serve.container!, serve.token)).body) as { AccessKeyId?: string; Expiration?: string };
      await waitUntil(async () => (await read()).AccessKeyId !== undefined, 'the first chained credentials');
      const first = await read();
      assert.equal(short.issued().find((r) => r.accessKeyId === first.AccessKeyId)?.kind, 'assume-role');
      short.setStsSettings({ outage: true });
      const before = short.stats().assumeRole.rejected;
      await waitUntil(() => short.stats().assumeRole.rejected > before, 'a refresh hits the outage', 30_000);
      const during = await read();
      assert.equal(during.AccessKeyId, first.AccessKeyId, 'the last chained credentials are kept');
      short.setStsSettings({ outage: false });
      await waitUntil(
        async () => {
          const c = await read();
          return c.AccessKeyId !== undefined && c.AccessKeyId !== first.AccessKeyId;
        },
        'a chained refresh after the outage',
        40_000,
      );
      const next = await read();
      assert.equal(short.issued().find((r) => r.accessKeyId === next.AccessKeyId)?.kind, 'assume-role');
    } finally {
      await serve.cli.stop();
      await short.stop();
    }
  });
});
