import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidecarError } from '../core/errors.js';
import { accountIdOfRoleArn, parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn } from './arn.js';

const TA = 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da';
const PROFILE = 'arn:aws-us-gov:rolesanywhere:us-gov-west-1:123456789012:profile/6f4943fb-13d4-4242-89c4-be367595c380';

function arnError(fn: () => unknown, flag: string): SidecarError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SidecarError);
    assert.equal(e.code, 'ARN_INVALID');
    assert.ok(e.message.includes(flag), `message names ${flag}: ${e.message}`);
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail('expected ARN_INVALID');
}

test('parseArn splits the six fields and keeps colons inside the resource', () => {
  assert.deepEqual(parseArn('arn:aws:s3:::bucket:with:colons', '--x'), {
    partition: 'aws',
    service: 's3',
    region: '',
    accountId: '',
    resource: 'bucket:with:colons',
  });
  assert.deepEqual(parseTrustAnchorArn(TA), {
    partition: 'aws',
    service: 'rolesanywhere',
    region: 'us-east-1',
    accountId: '123456789012',
    resource: 'trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da',
  });
});

test('trust anchor and profile ARNs are checked for service, type, region and account', () => {
  assert.equal(parseProfileArn(PROFILE).region, 'us-gov-west-1');
  assert.equal(parseTrustAnchorArn('arn:aws-iso-b:rolesanywhere:us-isob-east-1:123456789012:trust-anchor/abc').partition, 'aws-iso-b');
  const e = arnError(() => parseTrustAnchorArn(PROFILE), '--trust-anchor-arn');
  assert.match(e.message, /arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor\/<uuid>/);
  arnError(() => parseProfileArn(TA), '--profile-arn');
  arnError(() => parseTrustAnchorArn('arn:aws:iam:us-east-1:123456789012:trust-anchor/x'), '--trust-anchor-arn');
  arnError(() => parseTrustAnchorArn('arn:aws:rolesanywhere::123456789012:trust-anchor/x'), '--trust-anchor-arn');
  arnError(() => parseTrustAnchorArn('arn:aws:rolesanywhere:us-east-1:12345:trust-anchor/x'), '--trust-anchor-arn');
  arnError(() => parseTrustAnchorArn('arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/'), '--trust-anchor-arn');
  arnError(() => parseTrustAnchorArn('arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a b'), '--trust-anchor-arn');
  arnError(() => parseTrustAnchorArn('arn:aws:rolesanywhere:US-EAST-1:123456789012:trust-anchor/x'), '--trust-anchor-arn');
  arnError(() => parseTrustAnchorArn(PROFILE, '--ta'), '--ta');
});

test('role ARNs: global (no region), 12-digit account, role/<path/name>', () => {
  assert.equal(parseRoleArn('arn:aws:iam::123456789012:role/R').resource, 'role/R');
  assert.equal(parseRoleArn('arn:aws-cn:iam::123456789012:role/team/app/R+=,.@-_').partition, 'aws-cn');
  const e = arnError(() => parseRoleArn('arn:aws:iam:us-east-1:123456789012:role/R'), '--role-arn');
  assert.match(e.message, /arn:aws:iam::123456789012:role\/<path\/name>/);
  arnError(() => parseRoleArn('arn:aws:iam::123456789012:user/R'), '--role-arn');
  arnError(() => parseRoleArn('arn:aws:iam::123456789012:role/'), '--role-arn');
  arnError(() => parseRoleArn('arn:aws:iam::123456789012:role/has space'), '--role-arn');
  arnError(() => parseRoleArn(`arn:aws:iam::123456789012:role/${'n'.repeat(65)}`), '--role-arn');
  arnError(() => parseRoleArn('arn:aws:sts::123456789012:role/R'), '--role-arn');
});

test('malformed, empty and oversized values are refused with a bounded one-line message', () => {
  for (const v of ['', 'arn', 'arn:aws', 'not-an-arn:aws:iam::123456789012:role/R', 'arn:AWS:iam::123456789012:role/R', 'arn:aws::::']) {
    arnError(() => parseArn(v, '--x'), '--x');
  }
  const huge = `arn:aws:iam::123456789012:role/${'a'.repeat(5000)}`;
  const e = arnError(() => parseRoleArn(huge), '--role-arn');
  assert.ok(e.message.length < 400, 'the huge value is not echoed');
  const long = arnError(() => parseRoleArn(`arn:aws:iam::123456789012:role/${'p/'.repeat(300)}R`), '--role-arn');
  assert.ok(long.message.length < 400);
});

test('accountIdOfRoleArn reads the account of role ARNs only', () => {
  assert.equal(accountIdOfRoleArn('arn:aws:iam::123456789012:role/R'), '123456789012');
  assert.equal(accountIdOfRoleArn('arn:aws-us-gov:iam::210987654321:role/p/R'), '210987654321');
  assert.equal(accountIdOfRoleArn('arn:aws:sts::123456789012:assumed-role/R/s'), undefined);
  assert.equal(accountIdOfRoleArn('garbage'), undefined);
});
