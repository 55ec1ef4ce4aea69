/**
 * examples/roles/roles.yaml, as users copy it, run against the emulator: only the paths and
 * the Roles Anywhere ARNs are swapped for the test's; the emulator's STS holds the four
 * target roles with the trust policies the example's README describes. Each role gives
 * credentials through the real CLI, and the emulator's record of each session shows what the
 * use case is about (another account, the external id sent, the session scoped down, the
 * short audited elevated session).
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanup, cliEnv, REPO_ROOT, runCli, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'roles');

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let dir: string;
let config: string;
let auditLog: string;

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki);
  const base = emu.env.ROLESANYWHERE_ROLE_ARN!;
  emu.setStsSettings({
    roles: [
      { arn: 'arn:aws:iam::210987654321:role/orders-reader', trustedPrincipals: [base] },
      { arn: 'arn:aws:iam::444455556666:role/vendor-monitoring', trustedPrincipals: [base], externalId: 'customer-7f3a-monitoring' },
      { arn: 'arn:aws:iam::210987654321:role/data-platform', trustedPrincipals: [base] },
      { arn: 'arn:aws:iam::210987654321:role/break-glass-admin', trustedPrincipals: [base] },
    ],
  });
  dir = tempDir('ras-role-examples-');
  auditLog = join(dir, 'audit.jsonl');
  copyFileSync(join(EXAMPLE, 'reports-policy.json'), join(dir, 'reports-policy.json'));
  const swaps: ReadonlyArray<readonly [RegExp, string]> = [
    [/^certificate: .*$/m, `certificate: ${pki.rsa.cert}`],
    [/^privateKey: .*$/m, `privateKey: ${pki.rsa.key}\nintermediates: ${pki.intermediatePem}`],
    [/^trustAnchorArn: .*$/m, `trustAnchorArn: ${emu.env.ROLESANYWHERE_TRUST_ANCHOR_ARN}`],
    [/^profileArn: .*$/m, `profileArn: ${emu.env.ROLESANYWHERE_PROFILE_ARN}`],
    [/^roleArn: .*$/m, `roleArn: ${base}`],
    [/^auditLog: .*$/m, `auditLog: ${auditLog}`],
    [/\/etc\/rolesanywhere-sidecar\/reports-policy\.json/, join(dir, 'reports-policy.json')],
  ];
  let text = readFileSync(join(EXAMPLE, 'roles.yaml'), 'utf8');
  for (const [re, to] of swaps) {
    assert.match(text, re, `the example still has ${re.source}`);
    text = text.replace(re, to);
  }
  config = join(dir, 'roles.yaml');
  writeFileSync(config, text);
});

after(async () => {
  await emu?.stop();
  cleanup(dir, pki?.dir);
});

async function credentialsFor(role: string): Promise<{ accessKeyId: string; expiration: number }> {
  const r = await runCli(['credential-process', '--no-cache', '--config', config, '--role-name', role], {
    env: cliEnv({ ROLESANYWHERE_ENDPOINT: emu.env.ROLESANYWHERE_ENDPOINT!, AWS_ENDPOINT_URL_STS: emu.url.href }),
  });
  assert.equal(r.code, 0, `${role}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { AccessKeyId: string; Expiration: string };
  return { accessKeyId: out.AccessKeyId, expiration: Date.parse(out.Expiration) };
}

const issued = (accessKeyId: string) => {
  const rec = emu.issued().find((x) => x.accessKeyId === accessKeyId);
  assert.ok(rec !== undefined, `${accessKeyId} was issued by the emulator`);
  return rec;
};

test("cross-account: orders-reader is a session of the other account's role", async () => {
  const rec = issued((await credentialsFor('orders-reader')).accessKeyId);
  assert.equal(rec.kind, 'assume-role');
  assert.equal(rec.assumedRoleArn, 'arn:aws:sts::210987654321:assumed-role/orders-reader/orders-sync');
  assert.equal(rec.sourceRoleArn, emu.env.ROLESANYWHERE_ROLE_ARN);
});

test('third-party: vendor-access sends the external id the trust policy demands', async () => {
  const rec = issued((await credentialsFor('vendor-access')).accessKeyId);
  assert.equal(rec.assumedRoleArn, 'arn:aws:sts::444455556666:assumed-role/vendor-monitoring/vendor-monitoring');
  assert.equal(rec.externalIdUsed, true);
});

test('least privilege: reports-scoped carries the session policy, the managed policy and the tags', async () => {
  const rec = issued((await credentialsFor('reports-scoped')).accessKeyId);
  assert.equal(rec.assumedRoleArn, 'arn:aws:sts::210987654321:assumed-role/data-platform/reports');
  assert.equal(rec.hasSessionPolicy, true);
  assert.deepEqual(rec.policyArns, ['arn:aws:iam::aws:policy/ReadOnlyAccess']);
  assert.deepEqual(rec.tags, { team: 'reporting', purpose: 'monthly-reports' });
});

test('break-glass: a 15-minute session, its tag transitive, its issuance in the 0600 audit log', async () => {
  const creds = await credentialsFor('break-glass');
  const rec = issued(creds.accessKeyId);
  assert.equal(rec.assumedRoleArn, 'arn:aws:sts::210987654321:assumed-role/break-glass-admin/break-glass');
  assert.ok(rec.expiration - rec.issuedAt <= 900_000, `lasts ${(rec.expiration - rec.issuedAt) / 1000} s`);
  assert.deepEqual(rec.transitiveTags, { reason: 'incident' });
  assert.equal(statSync(auditLog).mode & 0o777, 0o600);
  const lines = readFileSync(auditLog, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = lines.find((l) => l.accessKeyId === creds.accessKeyId);
  assert.ok(line !== undefined, 'the issuance is in the audit log');
  assert.equal(line.role, 'break-glass');
  assert.equal(line.roleArn, 'arn:aws:iam::210987654321:role/break-glass-admin');
});

test('base: the Roles Anywhere role itself, unchained', async () => {
  const rec = issued((await credentialsFor('base')).accessKeyId);
  assert.equal(rec.kind, 'rolesanywhere');
  assert.equal(rec.roleArn, emu.env.ROLESANYWHERE_ROLE_ARN);
});
