import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { decideAssumeRole, parseStsRoleSpecs, policyProblem, type CallerSession, type StsSettings } from './assume-role.js';
import { DEFAULT_ROLE_ARN, defaultEmulatorConfig } from './config.js';
import { startEmulator, type RunningEmulator } from './server.js';
import { createTestPki, sendRaw, sendSigned, signWith, type TestPki } from '../../test/helpers/emulator-support.js';

const TARGET = 'arn:aws:iam::210987654321:role/cross-account-reader';
const VENDOR = 'arn:aws:iam::210987654321:role/vendor-access';
const caller: CallerSession = {
  roleArn: DEFAULT_ROLE_ARN,
  assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/rolesanywhere-demo/abc',
  accountId: '123456789012',
  sourceIdentity: 'CN=workload',
};
const settings: StsSettings = {
  roles: [
    { arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN] },
    { arn: VENDOR, trustedPrincipals: ['arn:aws:iam::123456789012:root'], externalId: 'Vendor-42', maxSessionDurationSeconds: 7200 },
  ],
};
const ctx = { signingRegion: 'us-east-1', partition: 'aws' };
const decide = (p: Record<string, string>, s: StsSettings = settings, c: CallerSession = caller) => decideAssumeRole(new Map(Object.entries(p)), c, s, ctx);

describe('decideAssumeRole (pure)', () => {
  test('grants a trusted role with the target account and the inherited source identity', () => {
    const d = decide({ RoleArn: TARGET, RoleSessionName: 'job-1' });
    assert.ok(d.ok);
    assert.equal(d.grant.accountId, '210987654321');
    assert.equal(d.grant.roleName, 'cross-account-reader');
    assert.equal(d.grant.durationSeconds, 3600);
    assert.equal(d.grant.sourceIdentity, 'CN=workload');
    assert.equal(d.grant.packedPolicySize, undefined);
  });

  test('AccessDenied for an unknown role, an untrusted source role and a wrong or missing external id', () => {
    const other: CallerSession = {
      ...caller,
      roleArn: 'arn:aws:iam::999999999999:role/x',
      accountId: '999999999999',
      assumedRoleArn: 'arn:aws:sts::999999999999:assumed-role/x/s',
    };
    for (const [p, c] of [
      [{ RoleArn: 'arn:aws:iam::210987654321:role/nope', RoleSessionName: 'ab' }, caller],
      [{ RoleArn: TARGET, RoleSessionName: 'ab' }, other],
      [{ RoleArn: VENDOR, RoleSessionName: 'ab', ExternalId: 'Vendor-41' }, caller],
      [{ RoleArn: VENDOR, RoleSessionName: 'ab' }, caller],
    ] as const) {
      const d = decide(p, settings, c);
      assert.ok(!d.ok);
      assert.equal(d.status, 403);
      assert.equal(d.code, 'AccessDenied');
      assert.match(d.message, /is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::/);
    }
    const ok = decide({ RoleArn: VENDOR, RoleSessionName: 'ab', ExternalId: 'Vendor-42' });
    assert.ok(ok.ok, 'the account root principal and the right external id are trusted');
    assert.equal(ok.grant.externalIdUsed, true);
  });

  test('durations: the role maximum, then the one-hour role-chaining cap', () => {
    const overRole = decide({ RoleArn: TARGET, RoleSessionName: 'ab', DurationSeconds: '7200' });
    assert.ok(!overRole.ok);
    assert.equal(overRole.code, 'ValidationError');
    assert.match(overRole.message, /MaxSessionDuration/);
    const overChain = decide({ RoleArn: VENDOR, RoleSessionName: 'ab', ExternalId: 'Vendor-42', DurationSeconds: '7200' });
    assert.ok(!overChain.ok);
    assert.match(overChain.message, /1 hour session limit for roles assumed by role chaining/);
    const under = decide({ RoleArn: TARGET, RoleSessionName: 'ab', DurationSeconds: '899' });
    assert.ok(!under.ok);
    assert.match(under.message, /^1 validation error detected: .*durationSeconds.*greater than or equal to 900/);
  });

  test('parameter constraints give one ValidationError listing each problem', () => {
    const d = decide({ RoleArn: TARGET, RoleSessionName: 'a b', ExternalId: 'x', SourceIdentity: 'aws:me' });
    assert.ok(!d.ok);
    assert.equal(d.status, 400);
    assert.match(d.message, /^3 validation errors detected: .*roleSessionName.*externalId.*sourceIdentity/);
    const missing = decide({});
    assert.ok(!missing.ok);
    assert.match(missing.message, /Value null at 'roleArn'.*Value null at 'roleSessionName'/);
  });

  test('session policies: malformed documents, the 2048-character limit, policy ARNs', () => {
    for (const bad of [
      '{',
      '[]',
      '{"Statement":[]}',
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}',
      '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}',
    ]) {
      const d = decide({ RoleArn: TARGET, RoleSessionName: 'ab', Policy: bad });
      assert.ok(!d.ok, bad);
      assert.equal(d.code, 'MalformedPolicyDocument', bad);
    }
    const long = decide({
      RoleArn: TARGET,
      RoleSessionName: 'ab',
      Policy: `{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"${'a'.repeat(2100)}"}}`,
    });
    assert.ok(!long.ok);
    assert.equal(long.code, 'ValidationError');
    const good = decide({
      RoleArn: TARGET,
      RoleSessionName: 'ab',
      Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::bucket/*"}]}',
      'PolicyArns.member.1.arn': 'arn:aws:iam::aws:policy/ReadOnlyAccess',
    });
    assert.ok(good.ok);
    assert.deepEqual(good.grant.policyArns, ['arn:aws:iam::aws:policy/ReadOnlyAccess']);
    assert.ok(good.grant.packedPolicySize! > 0 && good.grant.packedPolicySize! <= 100);
    const badArn = decide({ RoleArn: TARGET, RoleSessionName: 'ab', 'PolicyArns.member.1.arn': 'arn:aws:s3:::bucket' });
    assert.ok(!badArn.ok);
    assert.equal(badArn.code, 'ValidationError');
    assert.equal(policyProblem('{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":["*"]}}'), undefined);
  });

  test('tags: transitive keys must be tagged, inherited transitive tags cannot be overridden, packed size is bounded', () => {
    const d = decide({
      RoleArn: TARGET,
      RoleSessionName: 'ab',
      'Tags.member.1.Key': 'team',
      'Tags.member.1.Value': 'data',
      'TransitiveTagKeys.member.1': 'team',
    });
    assert.ok(d.ok);
    assert.deepEqual(d.grant.transitiveTags, { team: 'data' });
    const missing = decide({ RoleArn: TARGET, RoleSessionName: 'ab', 'TransitiveTagKeys.member.1': 'team' });
    assert.ok(!missing.ok);
    assert.equal(missing.code, 'InvalidParameterValue');
    const chained = decide({ RoleArn: TARGET, RoleSessionName: 'ab', 'Tags.member.1.Key': 'Team', 'Tags.member.1.Value': 'x' }, settings, {
      ...caller,
      transitiveTags: { team: 'data' },
    });
    assert.ok(!chained.ok);
    assert.match(chained.message, /transitive session tag 'team'/);
    const dup = decide({ RoleArn: TARGET, RoleSessionName: 'ab', 'Tags.member.1.Key': 'a', 'Tags.member.2.Key': 'A' });
    assert.ok(!dup.ok);
    assert.match(dup.message, /Duplicate tag keys/);
    const big: Record<string, string> = { RoleArn: TARGET, RoleSessionName: 'ab' };
    // Random-looking values do not compress: 40 tags of 128 + 256 characters exceed the packed budget.
    for (let i = 1; i <= 40; i++) {
      big[`Tags.member.${i}.Key`] = createHash('sha512').update(`k${i}`).digest('hex').slice(0, 128);
      big[`Tags.member.${i}.Value`] = createHash('sha512').update(`v${i}`).digest('hex') + createHash('sha512').update(`w${i}`).digest('hex');
    }
    const tooBig = decide(big);
    assert.ok(!tooBig.ok);
    assert.equal(tooBig.code, 'PackedPolicyTooLarge');
    assert.match(tooBig.message, /^Packed size of session tags consumes \d+% of allotted space\.$/);
  });

  test('a source identity cannot be changed along the chain; RegionDisabled and outage', () => {
    const changed = decide({ RoleArn: TARGET, RoleSessionName: 'ab', SourceIdentity: 'someone-else' });
    assert.ok(!changed.ok);
    assert.match(changed.message, /sts:SetSourceIdentity/);
    const same = decide({ RoleArn: TARGET, RoleSessionName: 'ab', SourceIdentity: 'CN=workload' });
    assert.ok(same.ok);
    const region = decide({ RoleArn: TARGET, RoleSessionName: 'ab' }, { ...settings, disabledRegions: ['us-east-1'] });
    assert.ok(!region.ok);
    assert.equal(region.code, 'RegionDisabledException');
    const outage = decide({ RoleArn: TARGET, RoleSessionName: 'ab' }, { ...settings, outage: true });
    assert.ok(!outage.ok);
    assert.equal(outage.status, 503);
  });

  test('--assumable-role specs', () => {
    const roles = parseStsRoleSpecs(
      `${TARGET},${VENDOR};trust=arn:aws:iam::123456789012:root|${DEFAULT_ROLE_ARN};external-id=a,b;max-duration=7200`,
      DEFAULT_ROLE_ARN,
    );
    assert.deepEqual(roles, [
      { arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN] },
      { arn: VENDOR, trustedPrincipals: ['arn:aws:iam::123456789012:root', DEFAULT_ROLE_ARN], externalId: 'a,b', maxSessionDurationSeconds: 7200 },
    ]);
    assert.throws(() => parseStsRoleSpecs(`${TARGET};colour=red`, DEFAULT_ROLE_ARN), /unknown field "colour"/);
  });
});

describe('AssumeRole through @aws-sdk/client-sts against the emulator', () => {
  let pki: TestPki;
  let emu: RunningEmulator;
  before(async () => {
    pki = await createTestPki();
    emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), sts: settings, adminApi: true });
  });
  after(() => emu.stop());

  async function base(): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
    const res = await sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: Date.now() }));
    assert.equal(res.status, 201, res.body);
    const doc = JSON.parse(res.body) as { credentialSet: Array<{ credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string } }> };
    const { accessKeyId, secretAccessKey, sessionToken } = doc.credentialSet[0]!.credentials;
    return { accessKeyId, secretAccessKey, sessionToken };
  }
  const client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) =>
    new STSClient({ region: 'us-east-1', endpoint: emu.url.origin, credentials, maxAttempts: 1 });
  async function assume(input: AssumeRoleCommandInput) {
    const c = client(await base());
    try {
      return await c.send(new AssumeRoleCommand(input));
    } finally {
      c.destroy();
    }
  }

  test('chained credentials name the target account in GetCallerIdentity and can chain no further than trusted', async () => {
    const out = await assume({ RoleArn: TARGET, RoleSessionName: 'cross-1', Tags: [{ Key: 'team', Value: 'data' }], TransitiveTagKeys: ['team'] });
    assert.equal(out.AssumedRoleUser?.Arn, 'arn:aws:sts::210987654321:assumed-role/cross-account-reader/cross-1');
    assert.match(out.AssumedRoleUser?.AssumedRoleId ?? '', /^AROA[A-Z0-9]{17}:cross-1$/);
    assert.equal(out.SourceIdentity, 'CN=workload-ec256');
    assert.ok(out.Credentials?.Expiration instanceof Date);
    const chained = client({
      accessKeyId: out.Credentials.AccessKeyId!,
      secretAccessKey: out.Credentials.SecretAccessKey!,
      sessionToken: out.Credentials.SessionToken!,
    });
    try {
      const id = await chained.send(new GetCallerIdentityCommand({}));
      assert.equal(id.Arn, 'arn:aws:sts::210987654321:assumed-role/cross-account-reader/cross-1');
      assert.equal(id.Account, '210987654321');
      // cross-account-reader trusts only the Roles Anywhere role, not itself.
      await assert.rejects(chained.send(new AssumeRoleCommand({ RoleArn: TARGET, RoleSessionName: 'again' })), { name: 'AccessDenied' });
    } finally {
      chained.destroy();
    }
    const rec = emu.issued().find((r) => r.accessKeyId === out.Credentials!.AccessKeyId);
    assert.equal(rec?.kind, 'assume-role');
    assert.equal(rec?.sourceRoleArn, DEFAULT_ROLE_ARN);
    assert.deepEqual(rec?.transitiveTags, { team: 'data' });
  });

  test('each refusal reaches the SDK as its STS error', async () => {
    await assert.rejects(
      assume({ RoleArn: VENDOR, RoleSessionName: 'vv', ExternalId: 'wrong-id' }),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, 'AccessDenied');
        assert.equal(e.$metadata?.httpStatusCode, 403);
        return true;
      },
    );
    await assert.rejects(assume({ RoleArn: TARGET, RoleSessionName: 'vv', DurationSeconds: 7200 }), { name: 'ValidationError' });
    await assert.rejects(assume({ RoleArn: TARGET, RoleSessionName: 'vv', Policy: '{"Statement":' }), { name: 'MalformedPolicyDocumentException' });
    const ok = await assume({
      RoleArn: VENDOR,
      RoleSessionName: 'vv',
      ExternalId: 'Vendor-42',
      DurationSeconds: 3600,
      Policy: '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}',
    });
    assert.ok((ok.PackedPolicySize ?? 0) > 0);
  });

  test('the admin API replaces roles and scripts an outage', async () => {
    const post = (body: unknown) => sendRaw(emu.url, 'POST', '/__emulator/sts', [['content-type', 'application/json']], JSON.stringify(body));
    assert.equal((await post({ outage: true })).status, 200);
    await assert.rejects(
      assume({ RoleArn: TARGET, RoleSessionName: 'oo' }),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 503,
    );
    assert.equal((await post({ outage: false, roles: [{ arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN], externalId: 'new-id' }] })).status, 200);
    await assert.rejects(assume({ RoleArn: TARGET, RoleSessionName: 'oo' }), { name: 'AccessDenied' });
    assert.ok(await assume({ RoleArn: TARGET, RoleSessionName: 'oo', ExternalId: 'new-id' }));
    const bad = await post({ roles: [{ arn: 'not-an-arn', trustedPrincipals: [] }] });
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.body) as { message: string }).message, /not a role ARN/);
    const listed = await sendRaw(emu.url, 'GET', '/__emulator/sts', [], '');
    assert.equal((JSON.parse(listed.body) as { roles: Array<{ externalId?: string }> }).roles[0]!.externalId, 'new-id');
    assert.equal(emu.stats().assumeRole.rejected >= 4, true);
    await post({ roles: settings.roles });
  });
});
