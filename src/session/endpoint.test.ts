import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidecarError, type ErrorCode } from '../core/errors.js';
import { parseEndpointUrl, resolveEndpoint, type EndpointInput } from './endpoint.js';

function arns(partition: string, region: string): Pick<EndpointInput, 'trustAnchorArn' | 'profileArn'> {
  return {
    trustAnchorArn: `arn:${partition}:rolesanywhere:${region}:123456789012:trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da`,
    profileArn: `arn:${partition}:rolesanywhere:${region}:123456789012:profile/6f4943fb-13d4-4242-89c4-be367595c380`,
  };
}

function host(partition: string, region: string, useFips = false, useDualStack = false): string {
  const r = resolveEndpoint({ ...arns(partition, region), useFips, useDualStack });
  assert.equal(r.region, region);
  assert.equal(r.url.href, `https://${r.host}/`);
  return r.host;
}

function fails(input: EndpointInput, code: ErrorCode, ...mustInclude: string[]): SidecarError {
  try {
    resolveEndpoint(input);
  } catch (e) {
    assert.ok(e instanceof SidecarError, String(e));
    assert.equal(e.code, code, e.message);
    for (const s of mustInclude) assert.ok(e.message.includes(s), `"${e.message}" mentions "${s}"`);
    return e;
  }
  assert.fail(`expected ${code}`);
}

test('standard hosts per partition', () => {
  assert.equal(host('aws', 'us-east-1'), 'rolesanywhere.us-east-1.amazonaws.com');
  assert.equal(host('aws-cn', 'cn-north-1'), 'rolesanywhere.cn-north-1.amazonaws.com.cn');
  assert.equal(host('aws-us-gov', 'us-gov-west-1'), 'rolesanywhere.us-gov-west-1.amazonaws.com');
  assert.equal(host('aws-iso', 'us-iso-east-1'), 'rolesanywhere.us-iso-east-1.c2s.ic.gov');
  assert.equal(host('aws-iso-b', 'us-isob-east-1'), 'rolesanywhere.us-isob-east-1.sc2s.sgov.gov');
  assert.equal(host('aws-iso-e', 'eu-isoe-west-1'), 'rolesanywhere.eu-isoe-west-1.cloud.adc-e.uk');
  assert.equal(host('aws-iso-f', 'us-isof-south-1'), 'rolesanywhere.us-isof-south-1.csp.hci.ic.gov');
});

test('FIPS, dual-stack and both', () => {
  assert.equal(host('aws', 'us-east-2', true), 'rolesanywhere-fips.us-east-2.amazonaws.com');
  assert.equal(host('aws-us-gov', 'us-gov-east-1', true), 'rolesanywhere-fips.us-gov-east-1.amazonaws.com');
  assert.equal(host('aws', 'eu-west-1', false, true), 'rolesanywhere.eu-west-1.api.aws');
  assert.equal(host('aws-cn', 'cn-northwest-1', false, true), 'rolesanywhere.cn-northwest-1.api.amazonwebservices.com.cn');
  assert.equal(host('aws', 'us-west-2', true, true), 'rolesanywhere-fips.us-west-2.api.aws');
});

test('--region equal to the trust anchor region is accepted; a different one is REGION_MISMATCH', () => {
  const base = { ...arns('aws', 'eu-central-1'), useFips: false, useDualStack: false };
  assert.equal(resolveEndpoint({ ...base, region: 'eu-central-1' }).host, 'rolesanywhere.eu-central-1.amazonaws.com');
  assert.equal(resolveEndpoint({ ...base, region: '' }).region, 'eu-central-1');
  fails({ ...base, region: 'us-east-1' }, 'REGION_MISMATCH', 'us-east-1', 'eu-central-1');
  fails({ ...base, region: 'not a region' }, 'CONFIG_INVALID', '--region');
});

test('trust anchor and profile in different regions is REGION_MISMATCH naming both', () => {
  const input = {
    trustAnchorArn: arns('aws', 'us-east-1').trustAnchorArn,
    profileArn: arns('aws', 'us-west-2').profileArn,
    useFips: false,
    useDualStack: false,
  };
  fails(input, 'REGION_MISMATCH', 'us-east-1', 'us-west-2', 'same region');
});

test('--endpoint overrides the host; the region still comes from the ARNs', () => {
  const base = { ...arns('aws', 'us-east-1'), useFips: false, useDualStack: false };
  const a = resolveEndpoint({ ...base, endpoint: 'http://127.0.0.1:8080' });
  assert.equal(a.url.href, 'http://127.0.0.1:8080/');
  assert.equal(a.host, '127.0.0.1:8080');
  assert.equal(a.region, 'us-east-1');
  const b = resolveEndpoint({ ...base, endpoint: 'https://rolesanywhere.us-east-1.amazonaws.com:443/' });
  assert.equal(b.host, 'rolesanywhere.us-east-1.amazonaws.com', 'the default port is not in the Host header');
  assert.equal(
    resolveEndpoint({ ...base, endpoint: 'vpce-1.rolesanywhere.us-east-1.vpce.amazonaws.com' }).url.href,
    'https://vpce-1.rolesanywhere.us-east-1.vpce.amazonaws.com/',
  );
  assert.equal(resolveEndpoint({ ...base, endpoint: 'http://[::1]:9000' }).host, '[::1]:9000');
});

test('--endpoint errors: FIPS/dual-stack combination, bad scheme, path, credentials', () => {
  const base = { ...arns('aws', 'us-east-1'), useFips: false, useDualStack: false };
  fails({ ...base, endpoint: 'https://example.com', useFips: true }, 'CONFIG_INVALID', '--endpoint', 'FIPS');
  fails({ ...base, endpoint: 'https://example.com', useDualStack: true }, 'CONFIG_INVALID', 'dual-stack');
  fails({ ...base, endpoint: 'ftp://example.com' }, 'CONFIG_INVALID', 'ftp');
  fails({ ...base, endpoint: 'https://example.com/prefix' }, 'CONFIG_INVALID', 'path');
  fails({ ...base, endpoint: 'https://example.com/?a=b' }, 'CONFIG_INVALID', 'query');
  fails({ ...base, endpoint: 'https://exa mple.com' }, 'CONFIG_INVALID', 'not a URL');
  const e = fails({ ...base, endpoint: 'https://user:hunter2@example.com' }, 'CONFIG_INVALID', 'credentials');
  assert.ok(!e.message.includes('hunter2'), 'the password is not echoed');
  fails({ ...base, endpoint: `https://${'a'.repeat(3000)}.com` }, 'CONFIG_INVALID', 'longer');
  assert.throws(
    () => parseEndpointUrl('https://'),
    (x: unknown) => x instanceof SidecarError && x.code === 'CONFIG_INVALID',
  );
});

test('unknown partition is ARN_INVALID unless --endpoint gives the host; bad ARNs are ARN_INVALID', () => {
  const input = { ...arns('aws-future', 'xx-new-1'), useFips: false, useDualStack: false };
  fails(input, 'ARN_INVALID', 'aws-future', '--endpoint');
  assert.equal(resolveEndpoint({ ...input, endpoint: 'https://ra.example' }).region, 'xx-new-1');
  fails({ trustAnchorArn: 'nope', profileArn: arns('aws', 'us-east-1').profileArn, useFips: false, useDualStack: false }, 'ARN_INVALID', '--trust-anchor-arn');
  fails({ trustAnchorArn: arns('aws', 'us-east-1').trustAnchorArn, profileArn: 'nope', useFips: false, useDualStack: false }, 'ARN_INVALID', '--profile-arn');
});
