/**
 * The emulated Roles Anywhere control plane, driven only by AWS's RolesAnywhereClient
 * (`@aws-sdk/client-rolesanywhere`), and CreateSession reading the state it changes:
 * credentials through the real CLI's credential-process for an anchor and profile the
 * client created; refusals for a disabled profile or anchor, a revoked certificate, a role
 * outside the profile, a duration above the profile's; the service's quotas; wrong admin
 * secrets; `--state` across restarts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  CreateProfileCommand,
  CreateTrustAnchorCommand,
  DeleteCrlCommand,
  DeleteProfileCommand,
  DisableCrlCommand,
  DisableProfileCommand,
  DisableTrustAnchorCommand,
  EnableProfileCommand,
  EnableTrustAnchorCommand,
  GetCrlCommand,
  GetProfileCommand,
  GetSubjectCommand,
  GetTrustAnchorCommand,
  ImportCrlCommand,
  ListCrlsCommand,
  ListProfilesCommand,
  ListSubjectsCommand,
  ListTagsForResourceCommand,
  ListTrustAnchorsCommand,
  RolesAnywhereClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateCrlCommand,
  UpdateProfileCommand,
  UpdateTrustAnchorCommand,
} from '@aws-sdk/client-rolesanywhere';
import { defaultEmulatorConfig, issueCrl, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { cleanup, cliEnv, parseExports, runCli, sessionArgs, startCli, tempDir, writePki, type LeafFiles, type PkiFiles } from '../helpers/harness.js';
import { startServe } from '../helpers/serve-fixture.js';

const ADMIN = { accessKeyId: 'AKIAEMULATORADMIN001', secretAccessKey: 'emulator-admin-secret-0123456789abcdefghij' };
const ROLE = 'arn:aws:iam::123456789012:role/controlplane-test';
const DAY = 86_400_000;

let dir: string;
let pki: PkiFiles;
let emu: RunningEmulator;
let client: RolesAnywhereClient;

function clientFor(url: URL, credentials = ADMIN, region = 'us-east-1'): RolesAnywhereClient {
  return new RolesAnywhereClient({ region, endpoint: url.href.replace(/\/$/, ''), credentials, maxAttempts: 1 });
}

before(async () => {
  dir = tempDir('ras-control-');
  pki = await writePki(dir);
  emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), adminCredentials: ADMIN });
  client = clientFor(emu.url);
});

after(async () => {
  client?.destroy();
  await emu?.stop();
  if (dir) cleanup(dir);
});

async function credentialProcess(leaf: LeafFiles, anchorArn: string, profileArn: string, extra: string[] = []) {
  return runCli(
    [
      'credential-process',
      ...sessionArgs(leaf, leaf.issued.cert.issuer.includes('Intermediate') ? ['--intermediates', pki.intermediatePem] : []),
      '--endpoint',
      emu.url.href,
      '--trust-anchor-arn',
      anchorArn,
      '--profile-arn',
      profileArn,
      '--role-arn',
      ROLE,
      '--no-cache',
      ...extra,
    ],
    { env: cliEnv() },
  );
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, ...(err.$metadata?.httpStatusCode !== undefined ? { status: err.$metadata.httpStatusCode } : {}) };
  }
  assert.fail('expected the call to be refused');
}

describe('anchor and profile created with RolesAnywhereClient', () => {
  let anchorArn: string;
  let anchorId: string;
  let profileArn: string;
  let profileId: string;

  before(async () => {
    const ta = await client.send(
      new CreateTrustAnchorCommand({
        name: 'it-anchor',
        enabled: true,
        source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: pki.root.certPem } },
        tags: [{ key: 'team', value: 'platform' }],
      }),
    );
    anchorArn = ta.trustAnchor!.trustAnchorArn!;
    anchorId = ta.trustAnchor!.trustAnchorId!;
    assert.equal(ta.$metadata.httpStatusCode, 201);
    assert.ok(ta.trustAnchor!.createdAt instanceof Date, 'timestamps parse as RFC 3339');
    const pr = await client.send(new CreateProfileCommand({ name: 'it-profile', enabled: true, roleArns: [ROLE], durationSeconds: 3600 }));
    profileArn = pr.profile!.profileArn!;
    profileId = pr.profile!.profileId!;
  });

  test('credential-process gets credentials; the subject is recorded', async () => {
    const r = await credentialProcess(pki.rsa, anchorArn, profileArn);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { Version: number }).Version, 1);
    const subjects = await client.send(new ListSubjectsCommand({}));
    const mine = subjects.subjects!.find((s) => s.x509Subject!.includes('CN=leaf-rsa'));
    assert.ok(mine, 'ListSubjects names the certificate that called CreateSession');
    const detail = await client.send(new GetSubjectCommand({ subjectId: mine.subjectId! }));
    assert.equal(detail.subject!.credentials![0]!.serialNumber, pki.rsa.issued.cert.serialNumber.toLowerCase());
    assert.ok(detail.subject!.lastSeenAt instanceof Date);
  });

  test('a disabled profile is refused with "disabled"; enabled again, it works', async () => {
    await client.send(new DisableProfileCommand({ profileId }));
    const refused = await credentialProcess(pki.rsa, anchorArn, profileArn);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /AccessDenied/);
    assert.match(refused.stderr, /profile .* is disabled/);
    const enabled = await client.send(new EnableProfileCommand({ profileId }));
    assert.equal(enabled.profile!.enabled, true);
    const ok = await credentialProcess(pki.rsa, anchorArn, profileArn);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a disabled trust anchor is refused with "disabled"', async () => {
    await client.send(new DisableTrustAnchorCommand({ trustAnchorId: anchorId }));
    const refused = await credentialProcess(pki.ec256, anchorArn, profileArn);
    assert.match(refused.stderr, /trust anchor .* is disabled/);
    await client.send(new EnableTrustAnchorCommand({ trustAnchorId: anchorId }));
    assert.equal((await credentialProcess(pki.ec256, anchorArn, profileArn)).code, 0);
  });

  test('a CRL revoking the leaf refuses it with "revoked"; disabled, the CRL no longer applies', async () => {
    const leaf = await pki.leaf('crl-leaf', 'ec-p256', { underRoot: true });
    assert.equal((await credentialProcess(leaf, anchorArn, profileArn)).code, 0);
    const now = Date.now();
    const pem = await issueCrl(pki.root, {
      revokedSerialsHex: [leaf.issued.cert.serialNumber],
      thisUpdate: new Date(now - DAY),
      nextUpdate: new Date(now + DAY),
    });
    const crl = await client.send(new ImportCrlCommand({ name: 'root-crl', crlData: Buffer.from(pem), trustAnchorArn: anchorArn, enabled: true }));
    assert.equal(crl.$metadata.httpStatusCode, 201);
    assert.equal(Buffer.from(crl.crl!.crlData!).toString(), pem, 'crlData comes back as the bytes imported');
    const refused = await credentialProcess(leaf, anchorArn, profileArn);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /revoked by CRL "root-crl"/);
    // Another certificate of the same CA is not on the list.
    assert.equal((await credentialProcess(pki.ec256, anchorArn, profileArn)).code, 0);
    await client.send(new DisableCrlCommand({ crlId: crl.crl!.crlId! }));
    assert.equal((await credentialProcess(leaf, anchorArn, profileArn)).code, 0);
    const renamed = await client.send(new UpdateCrlCommand({ crlId: crl.crl!.crlId!, name: 'renamed' }));
    assert.equal(renamed.crl!.name, 'renamed');
    assert.equal((await client.send(new GetCrlCommand({ crlId: crl.crl!.crlId! }))).crl!.enabled, false);
    await client.send(new DeleteCrlCommand({ crlId: crl.crl!.crlId! }));
  });

  test("a CRL not signed by the anchor's CA is refused at import", async () => {
    const now = Date.now();
    const pem = await issueCrl(pki.intermediate, { revokedSerialsHex: ['01'], thisUpdate: new Date(now - DAY), nextUpdate: new Date(now + DAY) });
    const e = await rejection(client.send(new ImportCrlCommand({ name: 'wrong-ca', crlData: Buffer.from(pem), trustAnchorArn: anchorArn })));
    assert.equal(e.name, 'ValidationException');
    assert.match(e.message, /not signed by a CA certificate of trust anchor/);
  });

  test('quotas: two CRLs per trust anchor, 50 roles per profile', async () => {
    const now = Date.now();
    const pem = await issueCrl(pki.root, { revokedSerialsHex: ['02'], thisUpdate: new Date(now - DAY), nextUpdate: new Date(now + DAY) });
    const ids: string[] = [];
    for (const name of ['q1', 'q2'])
      ids.push((await client.send(new ImportCrlCommand({ name, crlData: Buffer.from(pem), trustAnchorArn: anchorArn }))).crl!.crlId!);
    const third = await rejection(client.send(new ImportCrlCommand({ name: 'q3', crlData: Buffer.from(pem), trustAnchorArn: anchorArn })));
    assert.equal(third.name, 'ValidationException');
    assert.match(third.message, /quota of 2 per trust anchor/);
    assert.equal((await client.send(new ListCrlsCommand({}))).crls!.length, 2);
    for (const crlId of ids) await client.send(new DeleteCrlCommand({ crlId }));
    const roles = Array.from({ length: 51 }, (_, i) => `arn:aws:iam::123456789012:role/r${i}`);
    const tooMany = await rejection(client.send(new UpdateProfileCommand({ profileId, roleArns: roles })));
    assert.equal(tooMany.name, 'ValidationException');
    assert.match(tooMany.message, /at most 50 roles/);
    const big = await rejection(client.send(new ImportCrlCommand({ name: 'big', crlData: Buffer.alloc(300_001, 0x30), trustAnchorArn: anchorArn })));
    assert.match(big.message, /300000 bytes/);
  });

  test('role not in the profile, duration above it, session name it does not accept', async () => {
    const other = 'arn:aws:iam::123456789012:role/not-in-profile';
    const r1 = await runCli(
      [
        'credential-process',
        ...sessionArgs(pki.ec256),
        '--endpoint',
        emu.url.href,
        '--trust-anchor-arn',
        anchorArn,
        '--profile-arn',
        profileArn,
        '--role-arn',
        other,
        '--no-cache',
      ],
      { env: cliEnv() },
    );
    assert.match(r1.stderr, /is not one of the roles of profile/);
    await client.send(new UpdateProfileCommand({ profileId, durationSeconds: 900 }));
    const r2 = await credentialProcess(pki.ec256, anchorArn, profileArn, ['--session-duration', '3600']);
    assert.match(r2.stderr, /exceeds the profile's maximum of 900 seconds/);
    const r3 = await credentialProcess(pki.ec256, anchorArn, profileArn, ['--session-duration', '900', '--role-session-name', 'chosen-name']);
    assert.match(r3.stderr, /does not accept a roleSessionName/);
    await client.send(new UpdateProfileCommand({ profileId, durationSeconds: 3600 }));
  });

  test('get, list, update, tags round-trip through the client', async () => {
    const got = await client.send(new GetTrustAnchorCommand({ trustAnchorId: anchorId }));
    assert.equal(got.trustAnchor!.source!.sourceData!.x509CertificateData, pki.root.certPem);
    const renamed = await client.send(new UpdateTrustAnchorCommand({ trustAnchorId: anchorId, name: 'it-anchor-renamed' }));
    assert.equal(renamed.trustAnchor!.name, 'it-anchor-renamed');
    const list = await client.send(new ListTrustAnchorsCommand({ pageSize: 1 }));
    assert.equal(list.trustAnchors!.length, 1);
    assert.ok(list.nextToken, 'a second page');
    const page2 = await client.send(new ListTrustAnchorsCommand({ pageSize: 1, nextToken: list.nextToken }));
    assert.notEqual(page2.trustAnchors![0]!.trustAnchorArn, list.trustAnchors![0]!.trustAnchorArn);
    assert.deepEqual((await client.send(new ListTagsForResourceCommand({ resourceArn: anchorArn }))).tags, [{ key: 'team', value: 'platform' }]);
    await client.send(new TagResourceCommand({ resourceArn: profileArn, tags: [{ key: 'env', value: 'test' }] }));
    await client.send(new UntagResourceCommand({ resourceArn: anchorArn, tagKeys: ['team'] }));
    assert.deepEqual((await client.send(new ListTagsForResourceCommand({ resourceArn: anchorArn }))).tags, []);
    assert.deepEqual((await client.send(new ListTagsForResourceCommand({ resourceArn: profileArn }))).tags, [{ key: 'env', value: 'test' }]);
    assert.equal((await client.send(new GetProfileCommand({ profileId }))).profile!.roleArns![0], ROLE);
    const missing = await rejection(client.send(new GetProfileCommand({ profileId: '00000000-0000-4000-8000-000000000000' })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.status, 404);
  });

  test('a deleted profile is gone for CreateSession too', async () => {
    const pr = await client.send(new CreateProfileCommand({ name: 'short-lived', enabled: true, roleArns: [ROLE] }));
    await client.send(new DeleteProfileCommand({ profileId: pr.profile!.profileId! }));
    const r = await credentialProcess(pki.ec256, anchorArn, pr.profile!.profileArn!);
    assert.match(r.stderr, /does not exist/);
    assert.ok(!(await client.send(new ListProfilesCommand({}))).profiles!.some((p) => p.profileId === pr.profile!.profileId));
  });
});

describe('admin authentication', () => {
  test('a request signed with the wrong admin secret is refused with SignatureDoesNotMatch', async () => {
    const wrong = clientFor(emu.url, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-admin-secret-0123456789abcdefghij' });
    try {
      const e = await rejection(wrong.send(new ListTrustAnchorsCommand({})));
      assert.equal(e.name, 'SignatureDoesNotMatch');
      assert.equal(e.status, 403);
    } finally {
      wrong.destroy();
    }
  });

  test('an unknown access key and the wrong signing region are refused too', async () => {
    const unknown = clientFor(emu.url, { accessKeyId: 'AKIANOTTHEADMINKEY01', secretAccessKey: ADMIN.secretAccessKey });
    const region = clientFor(emu.url, ADMIN, 'eu-west-1');
    try {
      assert.equal((await rejection(unknown.send(new ListProfilesCommand({})))).name, 'UnrecognizedClientException');
      const e = await rejection(region.send(new ListProfilesCommand({})));
      assert.equal(e.name, 'SignatureDoesNotMatch');
      assert.match(e.message, /us-east-1/);
    } finally {
      unknown.destroy();
      region.destroy();
    }
  });
});

describe('emulator --state', () => {
  test('anchors and profiles created through the client survive a restart', async () => {
    const state = join(dir, 'state.json');
    const args = ['emulator', '--trust-anchor-ca', pki.rootPem, '--state', state];
    const env = cliEnv({ ROLESANYWHERE_ADMIN_ACCESS_KEY_ID: ADMIN.accessKeyId, ROLESANYWHERE_ADMIN_SECRET_ACCESS_KEY: ADMIN.secretAccessKey });
    const first = startCli(args, { env });
    let anchorId: string;
    try {
      const url = new URL(parseExports(await first.waitForLines(4)).ROLESANYWHERE_ENDPOINT!);
      const c = clientFor(url);
      anchorId = (
        await c.send(
          new CreateTrustAnchorCommand({ name: 'kept', source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: pki.root.certPem } } }),
        )
      ).trustAnchor!.trustAnchorId!;
      c.destroy();
    } finally {
      assert.equal((await first.stop()).code, 0);
    }
    const second = startCli(args, { env });
    try {
      const url = new URL(parseExports(await second.waitForLines(4)).ROLESANYWHERE_ENDPOINT!);
      const c = clientFor(url);
      const got = await c.send(new GetTrustAnchorCommand({ trustAnchorId: anchorId }));
      assert.equal(got.trustAnchor!.name, 'kept');
      assert.equal(got.trustAnchor!.enabled, false, 'created without enabled: disabled, as the service does');
      assert.equal((await c.send(new ListTrustAnchorsCommand({}))).trustAnchors!.length, 2, "the flags' anchor and the created one, once each");
      c.destroy();
    } finally {
      await second.stop();
    }
  });

  test('without admin flags a random pair is printed to standard error', async () => {
    const cli = startCli(['emulator', '--trust-anchor-ca', pki.rootPem], { env: cliEnv() });
    try {
      const url = new URL(parseExports(await cli.waitForLines(4)).ROLESANYWHERE_ENDPOINT!);
      await cli.waitForStderr(/export AWS_SECRET_ACCESS_KEY=/);
      const printed = parseExports(cli.stderr().split('\n'));
      const c = clientFor(url, { accessKeyId: printed.AWS_ACCESS_KEY_ID!, secretAccessKey: printed.AWS_SECRET_ACCESS_KEY! });
      assert.equal((await c.send(new ListProfilesCommand({}))).profiles!.length, 1);
      c.destroy();
    } finally {
      await cli.stop();
    }
  });
});

describe('setup', () => {
  test('run twice, it creates one anchor and one profile and prints export lines that work', async () => {
    const env = cliEnv({
      AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
      AWS_REGION: 'us-east-1',
      // The SDK's default chain must never reach for an instance metadata service here.
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    });
    const args = [
      'setup',
      '--trust-anchor-ca',
      pki.rootPem,
      '--role-arn',
      ROLE,
      '--role-arns',
      'arn:aws:iam::123456789012:role/second',
      '--name',
      'setup-test',
      '--endpoint',
      emu.url.href,
    ];
    const first = await runCli(args, { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /created trust anchor/);
    assert.match(first.stderr, /created profile/);
    const second = await runCli(args, { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /found trust anchor/);
    assert.match(second.stderr, /found profile/);
    assert.equal(second.stdout, first.stdout, 'the same ARNs both times');
    const anchors = (await client.send(new ListTrustAnchorsCommand({}))).trustAnchors!.filter((a) => a.name === 'setup-test');
    const profiles = (await client.send(new ListProfilesCommand({}))).profiles!.filter((p) => p.name === 'setup-test');
    assert.equal(anchors.length, 1);
    assert.equal(profiles.length, 1);
    assert.deepEqual(profiles[0]!.roleArns, [ROLE, 'arn:aws:iam::123456789012:role/second']);

    const exported = parseExports(first.stdout.split('\n'));
    assert.deepEqual(Object.keys(exported).sort(), [
      'ROLESANYWHERE_ENDPOINT',
      'ROLESANYWHERE_PROFILE_ARN',
      'ROLESANYWHERE_ROLE_ARN',
      'ROLESANYWHERE_TRUST_ANCHOR_ARN',
    ]);
    const r = await runCli(['credential-process', ...sessionArgs(pki.ec256), '--no-cache'], { env: cliEnv(exported) });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId.startsWith('ASIA'));

    // A disabled profile is found and enabled again: setup converges, it does not duplicate.
    await client.send(new DisableProfileCommand({ profileId: profiles[0]!.profileId! }));
    const third = await runCli(args, { env });
    assert.match(third.stderr, /enabled it/);
    assert.equal((await client.send(new GetProfileCommand({ profileId: profiles[0]!.profileId! }))).profile!.enabled, true);
  });

  test("the wrong secret fails setup with the service's error and a non-zero exit", async () => {
    const env = cliEnv({
      AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'wrong-secret-0123456789abcdefghijklmnop',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    const r = await runCli(['setup', '--trust-anchor-ca', pki.rootPem, '--role-arn', ROLE, '--endpoint', emu.url.href], { env });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /SignatureDoesNotMatch/);
    assert.match(r.stderr, /\[SERVICE_ACCESS_DENIED\]/);
  });
});

describe('module loading', () => {
  const TRACER = fileURLToPath(new URL('../helpers/module-trace.js', import.meta.url));
  const CONTROL_SDK = [
    '/node_modules/@aws-sdk/client-rolesanywhere/',
    '/node_modules/@aws-sdk/client-rolesanywhere/node_modules/',
    '/node_modules/@aws-sdk/smithy-client/',
  ];
  const loadedControlSdk = (trace: string): string[] => {
    const lines = readFileSync(trace, 'utf8').split('\n');
    return CONTROL_SDK.filter((n) => lines.some((l) => l.includes(n)));
  };
  const envs = (emuEnv: Record<string, string>, trace: string): Record<string, string> => ({
    ...emuEnv,
    NODE_OPTIONS: `--import=${TRACER}`,
    MODULE_TRACE_FILE: trace,
  });
  const emuEnv = (): Record<string, string> => ({
    ROLESANYWHERE_ENDPOINT: emu.url.href.replace(/\/$/, ''),
    ROLESANYWHERE_TRUST_ANCHOR_ARN: emu.config.trustAnchors[0]!.arn,
    ROLESANYWHERE_PROFILE_ARN: emu.config.profiles[0]!.arn,
    ROLESANYWHERE_ROLE_ARN: emu.config.profiles[0]!.roleArns[0]!,
  });

  test('credential-process and serve never load the control-plane SDK; setup does', async () => {
    const cpTrace = join(dir, 'cp.trace');
    const r = await runCli(['credential-process', ...sessionArgs(pki.ec256), '--no-cache'], { env: cliEnv(envs(emuEnv(), cpTrace)) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(loadedControlSdk(cpTrace), []);

    const serveTrace = join(dir, 'serve.trace');
    const served = await startServe([...sessionArgs(pki.ec256)], { env: envs(emuEnv(), serveTrace) });
    await served.cli.stop();
    assert.ok(readFileSync(serveTrace, 'utf8').includes('/src/cli/serve.js'), 'the tracer saw serve');
    assert.deepEqual(loadedControlSdk(serveTrace), []);

    const setupTrace = join(dir, 'setup.trace');
    const s = await runCli(['setup', '--trust-anchor-ca', pki.rootPem, '--role-arn', ROLE, '--name', 'trace', '--endpoint', emu.url.href], {
      env: cliEnv({
        ...envs({}, setupTrace),
        AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
    });
    assert.equal(s.code, 0, s.stderr);
    assert.ok(
      loadedControlSdk(setupTrace).includes('/node_modules/@aws-sdk/client-rolesanywhere/'),
      'the control: the same tracer sees the SDK when setup uses it',
    );
  });
});
