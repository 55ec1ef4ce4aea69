import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidecarError, type ErrorCode } from '../core/errors.js';
import { MAX_RESPONSE_BYTES, headerValue, parseCreateSessionResponse, serviceError } from './response.js';
import { TEST_ARNS, TEST_SECRETS, sessionBody } from '../../test/helpers/session-support.js';

function assertNoSecrets(s: string): void {
  for (const v of Object.values(TEST_SECRETS)) assert.ok(!s.includes(v), `"${s}" leaks a secret`);
}

function malformed(body: string, ...mustInclude: string[]): SidecarError {
  try {
    parseCreateSessionResponse(201, {}, body, { host: 'ra.example' });
  } catch (e) {
    assert.ok(e instanceof SidecarError, String(e));
    assert.equal(e.code, 'RESPONSE_MALFORMED', e.message);
    assert.equal(e.retryable, true);
    assert.ok(!e.message.includes('\n'));
    for (const s of mustInclude) assert.ok(e.message.includes(s), `"${e.message}" mentions "${s}"`);
    assertNoSecrets(e.message);
    assertNoSecrets(JSON.stringify(e.details));
    return e;
  }
  assert.fail('expected RESPONSE_MALFORMED');
}

function withCredentials(creds: Record<string, unknown>): string {
  return JSON.stringify({ credentialSet: [{ credentials: creds, roleArn: TEST_ARNS.roleArn }] });
}

test('a complete 201 becomes credentials with expiration in ms, role and account', () => {
  const r = parseCreateSessionResponse(201, {}, sessionBody('2026-11-22T15:04:05Z'));
  assert.deepEqual(r.credentials, {
    ...TEST_SECRETS,
    expiration: Date.UTC(2026, 10, 22, 15, 4, 5),
    roleArn: TEST_ARNS.roleArn,
    accountId: '123456789012',
  });
  assert.equal(r.assumedRoleArn, 'arn:aws:sts::123456789012:assumed-role/test-role/0a1b2c3d');
  assert.match(r.subjectArn ?? '', /^arn:aws:rolesanywhere:us-east-1:123456789012:subject\//);
  // Fractional seconds and offsets are ISO 8601 too; an expiration in the past is the caller's call.
  assert.equal(parseCreateSessionResponse(200, {}, sessionBody('2020-01-01T00:00:00.123+01:00')).credentials.expiration, Date.UTC(2019, 11, 31, 23, 0, 0, 123));
});

test('optional fields may be absent; the credentials still parse', () => {
  const r = parseCreateSessionResponse(
    201,
    {},
    withCredentials({ ...TEST_SECRETS, expiration: '2030-01-01T00:00:00Z' }).replace(`,"roleArn":"${TEST_ARNS.roleArn}"`, ''),
  );
  assert.equal(r.credentials.roleArn, undefined);
  assert.equal(r.credentials.accountId, undefined);
  assert.equal(r.subjectArn, undefined);
});

test('non-JSON, non-object, missing or empty credentialSet', () => {
  malformed('<html>502 Bad Gateway</html>', 'not JSON', '--endpoint', 'ra.example');
  malformed('', 'not JSON');
  malformed('[]', 'not a JSON object');
  malformed('{}', 'credentialSet');
  malformed('{"credentialSet":[]}', 'empty credentialSet');
  malformed('{"credentialSet":[null]}', 'credentialSet[0]');
  malformed('{"credentialSet":[{}]}', 'credentialSet[0].credentials');
});

test('each missing or empty credential field is named, and no secret value is echoed', () => {
  const full = { ...TEST_SECRETS, expiration: '2030-01-01T00:00:00Z' };
  for (const field of ['accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration'] as const) {
    const missing: Record<string, unknown> = { ...full };
    delete missing[field];
    malformed(withCredentials(missing), `credentials.${field}`);
    malformed(withCredentials({ ...full, [field]: '' }), `credentials.${field}`);
    malformed(withCredentials({ ...full, [field]: 42 }), `credentials.${field}`);
  }
  malformed(withCredentials({ ...full, expiration: 'tomorrow' }), 'expiration', 'ISO 8601');
  malformed(withCredentials({ ...full, expiration: '2030-02-31T25:00:00Z' }), 'expiration');
  malformed(withCredentials({ ...full, sessionToken: `${TEST_SECRETS.sessionToken}\n[default]` }), 'sessionToken', 'whitespace');
  malformed(withCredentials({ ...full, accessKeyId: 'A'.repeat(200) }), 'accessKeyId', 'longer');
});

test('a body over the size bound is refused without parsing', () => {
  const huge = sessionBody().replace('"packedPolicySize":0', `"pad":"${'x'.repeat(MAX_RESPONSE_BYTES)}"`);
  malformed(huge, 'larger than');
});

function mapped(status: number, headers: Record<string, string>, body: string, code: ErrorCode): SidecarError {
  const e = serviceError(status, headers, body, { host: 'rolesanywhere.us-east-1.amazonaws.com', region: 'us-east-1' });
  assert.equal(e.code, code, e.message);
  assert.equal(e.details.status, status);
  assert.ok(!e.message.includes('\n'));
  assert.ok(e.message.includes('rolesanywhere.us-east-1.amazonaws.com'));
  return e;
}

test('403 AccessDeniedException: not retryable, quotes the service message, keeps type and request id', () => {
  const e = mapped(
    403,
    { 'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/', 'x-amzn-requestid': 'b4c1-22aa' },
    '{"message":"Untrusted certificate. Insufficient certificate"}',
    'SERVICE_ACCESS_DENIED',
  );
  assert.equal(e.retryable, false);
  assert.equal(e.details.errorType, 'AccessDeniedException');
  assert.equal(e.details.requestId, 'b4c1-22aa');
  assert.ok(e.message.includes('Untrusted certificate. Insufficient certificate'));
  assert.ok(e.message.includes('trust policy'));
});

test('error type from the body (__type with namespace, code) and Message spelling', () => {
  const v = mapped(400, {}, '{"__type":"com.amazonaws.rolesanywhere#ValidationException","Message":"durationSeconds too large"}', 'SERVICE_VALIDATION');
  assert.equal(v.details.errorType, 'ValidationException');
  assert.ok(v.message.includes('durationSeconds too large'));
  assert.ok(v.message.includes('--session-duration'));
  assert.equal(mapped(404, {}, '{"code":"ResourceNotFoundException","message":"x"}', 'SERVICE_NOT_FOUND').details.errorType, 'ResourceNotFoundException');
  // The type wins over the status: some AWS front ends throttle with 400.
  assert.equal(mapped(400, {}, '{"__type":"ThrottlingException"}', 'SERVICE_THROTTLED').retryable, true);
});

test('status mapping without a type: 429, 5xx, other', () => {
  assert.equal(mapped(429, { 'retry-after': '1' }, '', 'SERVICE_THROTTLED').retryable, true);
  assert.equal(mapped(503, {}, '<html>Service Unavailable</html>', 'SERVICE_UNAVAILABLE').retryable, true);
  assert.equal(mapped(500, {}, '{"message":"boom"}', 'SERVICE_UNAVAILABLE').details.errorType, undefined);
  assert.equal(mapped(404, {}, 'not found', 'SERVICE_NOT_FOUND').message.includes('us-east-1'), true);
  assert.equal(mapped(418, {}, '', 'SERVICE_ERROR').retryable, false);
  assert.equal(mapped(302, {}, '', 'SERVICE_ERROR').retryable, false);
  assert.throws(
    () => parseCreateSessionResponse(403, { 'x-amzn-errortype': 'AccessDeniedException' }, '{}'),
    (e: unknown) => e instanceof SidecarError && e.code === 'SERVICE_ACCESS_DENIED',
  );
});

test('the service message is bounded, flattened and stripped of control characters', () => {
  const e = mapped(403, {}, JSON.stringify({ message: `line1\n\u001b[31mline2${'z'.repeat(5000)}` }), 'SERVICE_ACCESS_DENIED');
  assert.ok(e.message.length < 1000);
  assert.ok(!/[\u0000-\u001f]/.test(e.message));
  assert.ok(e.message.includes('line1 [31mline2'));
  const odd = mapped(403, { 'x-amzn-errortype': 'bad type with spaces', 'x-amzn-requestid': 'id\nwith newline' }, '', 'SERVICE_ACCESS_DENIED');
  assert.equal(odd.details.errorType, undefined);
  assert.equal(odd.details.requestId, undefined);
});

test('attempts are mentioned when more than one was made', () => {
  assert.ok(serviceError(503, {}, '', { attempts: 4 }).message.includes('after 4 attempts'));
  assert.ok(!serviceError(403, {}, '', { attempts: 1 }).message.includes('attempt'));
});

test('headerValue is case-insensitive and takes the first of repeated headers', () => {
  assert.equal(headerValue({ 'X-Amzn-RequestId': 'a' }, 'x-amzn-requestid'), 'a');
  assert.equal(headerValue({ 'retry-after': ['2', '3'] }, 'Retry-After'), '2');
  assert.equal(headerValue({ other: 'x', 'retry-after': undefined }, 'retry-after'), undefined);
});
