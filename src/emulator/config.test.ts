import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PROFILE_ARN,
  DEFAULT_ROLE_ARN,
  DEFAULT_TRUST_ANCHOR_ARN,
  defaultEmulatorConfig,
  validateEmulatorConfig,
  type EmulatorConfig,
} from './config.js';
import { MAX_CA_BUNDLE_BYTES, parseCaBundle } from '../identity/ca-bundle.js';
import { createTestPki, type TestPki } from '../../test/helpers/emulator-support.js';

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});

test('the default world uses the fixed, documented ARNs', () => {
  const c = defaultEmulatorConfig({ roots: [pki.root.cert] });
  assert.equal(DEFAULT_TRUST_ANCHOR_ARN, 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7a9c3e-5d1f-4e2a-9b6c-8d4e2f1a3c5b');
  assert.equal(DEFAULT_PROFILE_ARN, 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/6e2d4f8a-1c3b-4a5d-8e7f-9a0b1c2d3e4f');
  assert.equal(DEFAULT_ROLE_ARN, 'arn:aws:iam::123456789012:role/rolesanywhere-demo');
  assert.equal(c.trustAnchors[0]?.arn, DEFAULT_TRUST_ANCHOR_ARN);
  assert.equal(c.profiles[0]?.arn, DEFAULT_PROFILE_ARN);
  assert.deepEqual(c.profiles[0]?.roleArns, [DEFAULT_ROLE_ARN]);
  assert.equal(c.profiles[0]?.maxDurationSeconds, 3600);
});

test('the default world follows another region, account and partition', () => {
  const c = defaultEmulatorConfig({ roots: [pki.root.cert], region: 'cn-north-1', accountId: '210987654321', partition: 'aws-cn' });
  assert.match(c.trustAnchors[0]!.arn, /^arn:aws-cn:rolesanywhere:cn-north-1:210987654321:trust-anchor\//);
  assert.equal(c.profiles[0]!.roleArns[0], 'arn:aws-cn:iam::210987654321:role/rolesanywhere-demo');
});

test('refuses worlds the service could not have', () => {
  const good = defaultEmulatorConfig({ roots: [pki.root.cert] });
  const cases: Array<[EmulatorConfig, RegExp]> = [
    [{ ...good, accountId: '1234' }, /12-digit/],
    [{ ...good, region: 'Europe' }, /not an AWS region/],
    [{ ...good, trustAnchors: [{ arn: DEFAULT_TRUST_ANCHOR_ARN, roots: [pki.leafRsa.cert] }] }, /not a CA certificate/],
    [
      { ...good, trustAnchors: [{ arn: DEFAULT_TRUST_ANCHOR_ARN.replace('us-east-1', 'eu-west-1'), roots: [pki.root.cert] }] },
      /not in the emulator's us-east-1/,
    ],
    [{ ...good, trustAnchors: [] }, /no trust anchor/],
    [{ ...good, profiles: [{ arn: DEFAULT_PROFILE_ARN, roleArns: ['arn:aws:iam::999999999999:role/x'] }] }, /not in the emulator's account/],
    [{ ...good, profiles: [{ arn: DEFAULT_PROFILE_ARN, roleArns: [DEFAULT_ROLE_ARN], maxDurationSeconds: 600 }] }, /maxDurationSeconds 600/],
    [{ ...good, credentialLifetimeSeconds: 0 }, /credential lifetime 0/],
  ];
  for (const [c, pattern] of cases) assert.throws(() => validateEmulatorConfig(c), pattern);
});

test('parses a PEM CA bundle of trust anchors and refuses files without certificates', () => {
  const roots = parseCaBundle(`${pki.root.certPem}\n${pki.intermediate.certPem}`);
  assert.equal(roots.length, 2);
  assert.ok(roots[0]!.raw.equals(pki.root.cert.raw));
  assert.throws(() => parseCaBundle(pki.root.keyPem, 'ca.pem'), /ca.pem holds no "BEGIN CERTIFICATE"/);
  assert.throws(() => parseCaBundle('x'.repeat(MAX_CA_BUNDLE_BYTES + 1)), /larger than/);
});
