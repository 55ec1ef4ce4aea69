import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import { resolveStsEndpoint } from './endpoint.js';
import { defaultSessionName, parseTags, validateAssumeRole } from './options.js';
import { AssumeRoleSource, BASE_REUSE_MARGIN_MS, type AssumeRoleCall } from './source.js';
import { assumeRoleError } from './sts-client.js';

const names = {
  roleArn: '--assume-role-arn',
  sessionName: '--assume-role-session-name',
  durationSeconds: '--assume-role-duration',
  externalId: '--external-id',
  policy: '--session-policy-file',
  policyArns: '--policy-arns',
  sourceIdentity: '--source-identity',
  tags: '--tags',
  transitiveTagKeys: '--transitive-tag-keys',
};
const ROLE = 'arn:aws:iam::210987654321:role/reader';

test('parseTags: pairs, = inside values, case-insensitive duplicates and reserved keys refused', () => {
  assert.deepEqual(parseTags('team=data, cost-centre=a=b'), [
    { key: 'team', value: 'data' },
    { key: 'cost-centre', value: 'a=b' },
  ]);
  assert.deepEqual(parseTags(''), []);
  assert.deepEqual(parseTags('empty='), [{ key: 'empty', value: '' }]);
  assert.throws(() => parseTags('team'), /has no "="/);
  assert.throws(() => parseTags('Team=a,team=b'), /twice/);
  assert.throws(() => parseTags('aws:x=1'), /reserved/);
  assert.throws(() => parseTags('bad!key=1'), /1 to 128/);
  assert.throws(() => parseTags(Array.from({ length: 51 }, (_, i) => `k${i}=v`).join(',')), /at most 50/);
});

test('defaultSessionName: the CN made valid for STS, else the serial', () => {
  assert.equal(defaultSessionName('payments api (prod)', 'AB12'), 'payments-api-prod');
  assert.equal(defaultSessionName(undefined, 'AB12'), 'rolesanywhere-ab12');
  assert.equal(defaultSessionName('x', 'ff'), 'rolesanywhere-ff');
  assert.equal(defaultSessionName('a'.repeat(100), 'ff').length, 64);
  assert.match(defaultSessionName('ÿ-ü-ä', '01'), /^[\w+=,.@-]{2,64}$/);
});

test('validateAssumeRole: defaults, the one-hour chaining cap, policies and transitive keys', () => {
  const o = validateAssumeRole({ roleArn: ROLE }, 'leaf', names);
  assert.equal(o.sessionName, 'leaf');
  assert.equal(o.durationSeconds, 3600);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, durationSeconds: 7200 }, 'leaf', names), /--assume-role-duration 7200 .*at most one hour/);
  assert.throws(() => validateAssumeRole({ roleArn: 'arn:aws:s3:::b' }, 'leaf', names), /not a role ARN/);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, sessionName: 'a b' }, 'leaf', names), /--assume-role-session-name/);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, externalId: 'x' }, 'leaf', names), /--external-id/);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, policy: '{' }, 'leaf', names), /not valid JSON/);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, policy: '{"Statement":"' + 'x'.repeat(3000) + '"}' }, 'leaf', names), /limited to 2048/);
  const minified = validateAssumeRole({ roleArn: ROLE, policy: '{\n  "Statement": [ ]\n}' }, 'leaf', names);
  assert.equal(minified.policy, '{"Statement":[]}');
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, policyArns: ['arn:aws:s3:::b'] }, 'leaf', names), /not an IAM policy ARN/);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, tags: [{ key: 'a', value: '1' }], transitiveTagKeys: ['b'] }, 'leaf', names), /not among the tags/);
  assert.throws(() => validateAssumeRole({ roleArn: ROLE, sourceIdentity: 'aws:me' }, 'leaf', names), /--source-identity/);
});

test('resolveStsEndpoint: flag, then AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, then regional/FIPS/dual-stack', () => {
  const base = { region: 'eu-west-1', partition: 'aws', useFips: false, useDualStack: false };
  assert.equal(resolveStsEndpoint(base).url.href, 'https://sts.eu-west-1.amazonaws.com/');
  assert.equal(resolveStsEndpoint({ ...base, useFips: true }).url.href, 'https://sts-fips.eu-west-1.amazonaws.com/');
  assert.equal(resolveStsEndpoint({ ...base, useDualStack: true }).url.href, 'https://sts.eu-west-1.api.aws/');
  assert.equal(resolveStsEndpoint({ ...base, region: 'cn-north-1', partition: 'aws-cn' }).url.host, 'sts.cn-north-1.amazonaws.com.cn');
  const env = { ...base, endpointUrl: 'http://all.local:1', endpointUrlSts: 'http://sts.local:2' };
  assert.equal(resolveStsEndpoint(env).source, 'AWS_ENDPOINT_URL_STS');
  assert.equal(resolveStsEndpoint({ ...base, endpointUrl: 'http://all.local:1' }).url.host, 'all.local:1');
  assert.equal(resolveStsEndpoint({ ...env, override: 'sts.example:8443' }).url.href, 'https://sts.example:8443/');
  assert.throws(() => resolveStsEndpoint({ ...base, override: 'ftp://x' }), /http\(s\) URL/);
  assert.throws(() => resolveStsEndpoint({ ...base, override: 'https://u:p@x' }), /without credentials/);
});

function creds(id: string, expiration: number): Credentials {
  return { accessKeyId: id, secretAccessKey: 's', sessionToken: 't', expiration };
}

test('AssumeRoleSource: serves only chained credentials, reuses the base session while it has life, and fails without falling back', async () => {
  let now = 1_000_000;
  let baseCalls = 0;
  const base = { getCredentials: async () => creds(`BASE${++baseCalls}`, now + 3600_000) };
  const seen: string[] = [];
  let fail: SidecarError | undefined;
  const assume: AssumeRoleCall = async (b) => {
    seen.push(b.accessKeyId);
    if (fail !== undefined) throw fail;
    return { credentials: creds(`CHAINED-${b.accessKeyId}`, now + 3600_000), assumedRoleArn: 'arn:aws:sts::210987654321:assumed-role/reader/leaf' };
  };
  const issued: string[] = [];
  const src = new AssumeRoleSource({
    base,
    options: validateAssumeRole({ roleArn: ROLE }, 'leaf', names),
    assume,
    clock: { now: () => now },
    onIssued: (_c, i) => issued.push(i.assumedRoleArn ?? ''),
  });
  assert.equal((await src.getCredentials()).accessKeyId, 'CHAINED-BASE1');
  now += 3600_000 - BASE_REUSE_MARGIN_MS - 1;
  assert.equal((await src.getCredentials()).accessKeyId, 'CHAINED-BASE1', 'base reused while it has more than the margin');
  now += 2;
  assert.equal((await src.getCredentials()).accessKeyId, 'CHAINED-BASE2');
  assert.equal(issued.length, 3);
  fail = new SidecarError('ASSUME_ROLE_DENIED', 'denied');
  await assert.rejects(src.getCredentials(), { code: 'ASSUME_ROLE_DENIED' });
  // A base session STS no longer accepts is replaced once.
  let rejectOnce = true;
  fail = undefined;
  const src2 = new AssumeRoleSource({
    base,
    options: validateAssumeRole({ roleArn: ROLE }, 'leaf', names),
    assume: async (b, o, s) => {
      if (rejectOnce) {
        rejectOnce = false;
        throw new SidecarError('ASSUME_ROLE_UNAVAILABLE', 'expired', { details: { baseRejected: true } });
      }
      return assume(b, o, s);
    },
    clock: { now: () => now },
  });
  const before = baseCalls;
  assert.match((await src2.getCredentials()).accessKeyId, /^CHAINED-BASE/);
  assert.equal(baseCalls, before + 2);
});

test('assumeRoleError: STS codes to the catalogue', () => {
  const endpoint = { url: new URL('https://sts.us-east-1.amazonaws.com/'), region: 'us-east-1', source: 'region' };
  const o = validateAssumeRole({ roleArn: ROLE }, 'leaf', names);
  const e = (name: string, status?: number) =>
    assumeRoleError(Object.assign(new Error('msg'), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}) }), o, endpoint);
  assert.equal(e('AccessDenied', 403).code, 'ASSUME_ROLE_DENIED');
  assert.equal(e('RegionDisabledException', 403).code, 'ASSUME_ROLE_REGION_DISABLED');
  assert.equal(e('MalformedPolicyDocumentException', 400).code, 'ASSUME_ROLE_INVALID');
  assert.equal(e('PackedPolicyTooLargeException', 400).code, 'ASSUME_ROLE_INVALID');
  assert.match(e('ValidationError', 400).message, /lower --assume-role-duration|fix the chaining options/);
  assert.equal(e('ExpiredToken', 400).details.baseRejected, true);
  assert.equal(e('ServiceUnavailable', 503).code, 'ASSUME_ROLE_UNAVAILABLE');
  assert.equal(e('Throttling', 400).retryable, true);
  assert.equal(e('TimeoutError').code, 'ASSUME_ROLE_UNAVAILABLE');
  assert.equal(e('Weird', 418).code, 'ASSUME_ROLE_FAILED');
});
