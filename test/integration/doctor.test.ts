/**
 * `doctor` against the emulator: healthy, it passes every check and exits 0; each real
 * misconfiguration, made with RolesAnywhereClient or the flags (a disabled profile, a CRL
 * revoking the leaf, a role outside the profile, a duration above it, disagreeing regions,
 * a certificate of another CA, an expired certificate, a key of another certificate, a
 * clock more than 5 minutes off), is named by its check, with a fix, and the exit is 1.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateProfileCommand,
  CreateTrustAnchorCommand,
  DeleteCrlCommand,
  DisableProfileCommand,
  EnableProfileCommand,
  ImportCrlCommand,
  RolesAnywhereClient,
} from '@aws-sdk/client-rolesanywhere';
import { defaultEmulatorConfig, issueCertificate, issueCrl, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { cleanup, cliEnv, runCli, tempDir, writePki, type LeafFiles, type PkiFiles } from '../helpers/harness.js';
import { writeFileSync } from 'node:fs';

const ADMIN = { accessKeyId: 'AKIADOCTORADMIN00001', secretAccessKey: 'doctor-admin-secret-0123456789abcdefghij' };
const ROLE = 'arn:aws:iam::123456789012:role/doctor-test';
const DAY = 86_400_000;
const ORDER = ['identity', 'validity', 'chain', 'enabled', 'role', 'region', 'duration', 'revocation', 'clock', 'create-session'];

interface Report {
  ok: boolean;
  checks: Array<{ id: string; status: 'ok' | 'problem' | 'skipped'; message: string; fix?: string }>;
}

let dir: string;
let pki: PkiFiles;
let emu: RunningEmulator;
let client: RolesAnywhereClient;
let anchorArn: string;
let profileArn: string;
let profileId: string;

before(async () => {
  dir = tempDir('ras-doctor-');
  pki = await writePki(dir);
  emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), adminCredentials: ADMIN });
  client = new RolesAnywhereClient({ region: 'us-east-1', endpoint: emu.url.href.replace(/\/$/, ''), credentials: ADMIN, maxAttempts: 1 });
  anchorArn = (
    await client.send(
      new CreateTrustAnchorCommand({
        name: 'doctor',
        enabled: true,
        source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: pki.root.certPem } },
      }),
    )
  ).trustAnchor!.trustAnchorArn!;
  const p = await client.send(new CreateProfileCommand({ name: 'doctor', enabled: true, roleArns: [ROLE] }));
  profileArn = p.profile!.profileArn!;
  profileId = p.profile!.profileId!;
});

after(async () => {
  client?.destroy();
  await emu?.stop();
  if (dir) cleanup(dir);
});

function env(withCredentials = true): Record<string, string> {
  return cliEnv({
    ...(withCredentials ? { AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey } : {}),
    // The SDK's default chain must never reach for an instance metadata service here.
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  });
}

async function doctor(
  leaf: { cert: string; key: string },
  extra: string[] = [],
  o: { withCredentials?: boolean; url?: URL } = {},
): Promise<{ code: number | null; report: Report; text: string }> {
  const args = [
    'doctor',
    '--certificate',
    leaf.cert,
    '--private-key',
    leaf.key,
    '--endpoint',
    (o.url ?? emu.url).href,
    '--trust-anchor-arn',
    anchorArn,
    '--profile-arn',
    profileArn,
    '--role-arn',
    ROLE,
    ...extra,
  ];
  const json = await runCli([...args, '--json'], { env: env(o.withCredentials) });
  const report = JSON.parse(json.stdout) as Report;
  assert.deepEqual(
    report.checks.map((c) => c.id),
    ORDER,
    'every check, in order',
  );
  const text = await runCli(args, { env: env(o.withCredentials) });
  assert.equal(text.code, json.code, 'the same verdict in both formats');
  assert.equal(text.stdout.split('\n').filter((l) => /^(ok|PROBLEM|skipped) /.test(l)).length, ORDER.length, 'one line per check');
  return { code: json.code, report, text: text.stdout };
}

function check(r: Report, id: string) {
  return r.checks.find((c) => c.id === id)!;
}

function onlyProblems(r: Report): string[] {
  return r.checks.filter((c) => c.status === 'problem').map((c) => c.id);
}

describe('doctor', () => {
  test('a healthy setup passes every check and exits 0', async () => {
    const r = await doctor(pki.ec256);
    assert.equal(r.code, 0, r.text);
    assert.equal(r.report.ok, true);
    assert.deepEqual(
      r.report.checks.filter((c) => c.status !== 'ok').map((c) => c.id),
      [],
      r.text,
    );
    assert.match(check(r.report, 'create-session').message, /issued credentials ASIA/);
    assert.match(r.text, /all checks passed/);
  });

  test('a disabled profile', async () => {
    await client.send(new DisableProfileCommand({ profileId }));
    try {
      const r = await doctor(pki.ec256);
      assert.equal(r.code, 1);
      assert.deepEqual(onlyProblems(r.report), ['enabled', 'create-session']);
      assert.match(check(r.report, 'enabled').message, /profile .* is disabled/);
      assert.match(check(r.report, 'enabled').fix!, /enable/);
      assert.match(check(r.report, 'create-session').message, /disabled/);
    } finally {
      await client.send(new EnableProfileCommand({ profileId }));
    }
  });

  test('a CRL revoking the leaf', async () => {
    const leaf = await pki.leaf('doctor-revoked', 'ec-p256', { underRoot: true });
    const now = Date.now();
    const pem = await issueCrl(pki.root, {
      revokedSerialsHex: [leaf.issued.cert.serialNumber],
      thisUpdate: new Date(now - DAY),
      nextUpdate: new Date(now + DAY),
    });
    const crl = await client.send(new ImportCrlCommand({ name: 'doctor-crl', crlData: Buffer.from(pem), trustAnchorArn: anchorArn, enabled: true }));
    try {
      const r = await doctor(leaf);
      assert.equal(r.code, 1);
      assert.deepEqual(onlyProblems(r.report), ['revocation', 'create-session']);
      assert.match(check(r.report, 'revocation').message, /revoked by CRL "doctor-crl"/);
      assert.match(check(r.report, 'create-session').message, /revoked/);
    } finally {
      await client.send(new DeleteCrlCommand({ crlId: crl.crl!.crlId! }));
    }
  });

  test('a role outside the profile, a duration above it', async () => {
    const role = await doctor(pki.ec256, ['--role-arn', 'arn:aws:iam::123456789012:role/elsewhere']);
    assert.equal(role.code, 1);
    assert.deepEqual(onlyProblems(role.report), ['role', 'create-session']);
    assert.match(check(role.report, 'role').message, /is not one of the profile's roles/);
    const duration = await doctor(pki.ec256, ['--session-duration', '7200']);
    assert.equal(duration.code, 1);
    assert.deepEqual(onlyProblems(duration.report), ['duration', 'create-session']);
    assert.match(check(duration.report, 'duration').message, /above the profile's 3600 seconds/);
  });

  test('regions that disagree', async () => {
    const r = await doctor(pki.ec256, ['--region', 'eu-west-1']);
    assert.equal(r.code, 1);
    assert.ok(onlyProblems(r.report).includes('region'));
    assert.match(check(r.report, 'region').message, /eu-west-1 differs from the trust anchor's region us-east-1/);
  });

  test('a certificate of another CA, an expired one, a key of another certificate', async () => {
    const now = Date.now();
    const otherRoot = await issueCertificate({
      subject: 'CN=Other Root',
      keySpec: 'ec-p256',
      isCa: true,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 30 * DAY),
    });
    const stranger = await issueCertificate(
      { subject: 'CN=stranger', keySpec: 'ec-p256', notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) },
      otherRoot,
    );
    const files: LeafFiles = { cert: join(dir, 'stranger.pem'), key: join(dir, 'stranger.key'), issued: stranger };
    writeFileSync(files.cert, stranger.certPem);
    writeFileSync(files.key, stranger.keyPem, { mode: 0o600 });
    const chain = await doctor(files);
    assert.equal(chain.code, 1);
    assert.deepEqual(onlyProblems(chain.report), ['chain', 'create-session']);
    assert.match(check(chain.report, 'chain').fix!, /intermediates|trust anchor/);

    const expired = await pki.leaf('doctor-expired', 'ec-p256', { underRoot: true, notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) });
    const exp = await doctor(expired);
    assert.equal(exp.code, 1);
    assert.equal(check(exp.report, 'validity').status, 'problem');
    assert.match(check(exp.report, 'validity').message, /expired/);

    const mismatch = await doctor({ cert: pki.ec256.cert, key: pki.rsa.key });
    assert.equal(mismatch.code, 1);
    assert.equal(check(mismatch.report, 'identity').status, 'problem');
    assert.match(check(mismatch.report, 'identity').message, /does not belong to certificate/);
  });

  test('without control-plane credentials the control-plane checks are skipped with a note; CreateSession still decides', async () => {
    const r = await doctor(pki.ec256, [], { withCredentials: false });
    assert.equal(r.code, 0, r.text);
    for (const id of ['chain', 'enabled', 'role', 'duration', 'revocation']) {
      assert.equal(check(r.report, id).status, 'skipped', id);
      assert.match(check(r.report, id).message, /control plane could not be read/);
    }
    assert.equal(check(r.report, 'create-session').status, 'ok');
  });

  test("a clock more than 5 minutes off the service's", async () => {
    const ahead = await startEmulator({
      config: defaultEmulatorConfig({ roots: [pki.root.cert] }),
      adminCredentials: ADMIN,
      clock: { now: () => Date.now() + 10 * 60_000 },
    });
    try {
      const cfg = ahead.config;
      const args = [
        'doctor',
        '--json',
        '--certificate',
        pki.ec256.cert,
        '--private-key',
        pki.ec256.key,
        '--endpoint',
        ahead.url.href,
        '--trust-anchor-arn',
        cfg.trustAnchors[0]!.arn,
        '--profile-arn',
        cfg.profiles[0]!.arn,
        '--role-arn',
        cfg.profiles[0]!.roleArns[0]!,
      ];
      const res = await runCli(args, { env: env() });
      const report = JSON.parse(res.stdout) as Report;
      assert.equal(res.code, 1);
      assert.equal(check(report, 'clock').status, 'problem');
      assert.match(check(report, 'clock').message, /behind the service's/);
      assert.match(check(report, 'clock').fix!, /NTP/);
      assert.match(check(report, 'create-session').message, /clock/);
    } finally {
      await ahead.stop();
    }
  });
});
