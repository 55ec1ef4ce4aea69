import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ManualClock } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import type { LogLevel } from '../core/logger.js';
import { createLogger, isSecretFieldName, sanitize, type LoggerOptions } from './logger.js';

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ stream, clock: new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), ...options });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const SECRETS = [
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'IQoJb3JpZ2luX2VjEJr//////////SESSION',
  'AWS4-X509-RSA-SHA256 Credential=1234/20260102/us-east-1/rolesanywhere/aws4_request, Signature=abcdef',
  'hunter2-password',
  'imds-token-value-42',
  'container-token-value-43',
  'pin-1234',
];

test('secrets are redacted by field name at any depth and never appear in the output', () => {
  const { logger, lines, records } = capture({ level: 'debug' });
  logger.info('refreshed', {
    credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: SECRETS[0], sessionToken: SECRETS[1], expiration: 1 },
    request: { headers: { Authorization: SECRETS[2], 'x-aws-ec2-metadata-token': SECRETS[4] } },
    list: [{ nested: { deeper: { password: SECRETS[3] } } }],
    SecretAccessKey: SECRETS[0],
    Token: SECRETS[1],
    secret_access_key: SECRETS[0],
    containerToken: SECRETS[5],
    pkcs11Pin: SECRETS[6],
  });
  logger.child({ session_token: SECRETS[1] }).warn('child', { privateKey: SECRETS[3] });
  const out = lines.join('');
  for (const s of SECRETS) assert.equal(out.includes(s), false, `leaked ${s}`);
  const [rec] = records();
  assert.ok(rec);
  assert.deepEqual(rec.credentials, { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: '[REDACTED]', sessionToken: '[REDACTED]', expiration: 1 });
  assert.deepEqual(rec.request, { headers: { Authorization: '[REDACTED]', 'x-aws-ec2-metadata-token': '[REDACTED]' } });
  assert.deepEqual(rec.list, [{ nested: { deeper: { password: '[REDACTED]' } } }]);
});

test('harmless names that mention tokens or keys are kept', () => {
  for (const name of [
    'tokenTtlSeconds',
    'liveTokens',
    'accessKeyId',
    'keyType',
    'passwordFile',
    'containerTokenFile',
    'tokenCount',
    'keyAlgorithm',
    'certificateFingerprint',
    'credentialsExpiration',
    'msg',
  ]) {
    assert.equal(isSecretFieldName(name), false, name);
  }
  for (const name of [
    'token',
    'Token',
    'tokens',
    'sessionToken',
    'SessionToken',
    'x-amz-security-token',
    'secretAccessKey',
    'SECRET',
    'clientSecretValue',
    'password',
    'pkcs8Password',
    'Authorization',
    'proxy-authorization',
    'privateKey',
    'private_key_pem',
    'apiKey',
    'key',
    'cookie',
    'pin',
    'userPin',
    'keyMaterial',
    'passphrase',
  ]) {
    assert.equal(isSecretFieldName(name), true, name);
  }
});

test('secret-looking values are redacted whatever the field is called', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
  const out = sanitize({
    blob: pem,
    ec: pem.replace(/PRIVATE/g, 'EC PRIVATE'),
    proxy: 'http://user:s3cr3t@proxy:3128/',
    url: new URL('http://u:pw0rd@h/'),
  }) as Record<string, string>;
  assert.equal(out.blob, '[REDACTED]');
  assert.equal(out.ec, '[REDACTED]');
  assert.equal(out.proxy, 'http://user:[REDACTED]@proxy:3128/');
  assert.equal(out.url?.includes('pw0rd'), false);
});

test('JSON lines: time in UTC with Z, level, msg, then fields; one line per event', () => {
  const { logger, lines, records } = capture({ fields: { component: 'serve' } });
  logger.info('listening', { url: 'http://127.0.0.1:9911/', port: 9911 });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]?.endsWith('}\n'));
  assert.equal(lines[0]?.indexOf('\n'), lines[0]!.length - 1);
  assert.deepEqual(records()[0], {
    time: '2026-01-02T03:04:05.678Z',
    level: 'info',
    msg: 'listening',
    component: 'serve',
    url: 'http://127.0.0.1:9911/',
    port: 9911,
  });
  assert.ok(lines[0]?.startsWith('{"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"listening"'));
});

test('levels below the threshold are dropped', () => {
  const { logger, records } = capture({ level: 'warn' });
  const levels: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  for (const l of levels) logger[l](l);
  assert.deepEqual(
    records().map((r) => r.level),
    ['warn', 'error'],
  );
});

test('errors are {code, message} without stacks; causes are followed', () => {
  const { logger, lines, records } = capture();
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
  logger.error('refresh failed', {
    err: new SidecarError('ENDPOINT_UNREACHABLE', 'cannot reach rolesanywhere.us-east-1.amazonaws.com; check --endpoint', { cause, details: { attempt: 3 } }),
  });
  const rec = records()[0];
  assert.deepEqual(rec?.err, {
    code: 'ENDPOINT_UNREACHABLE',
    message: 'cannot reach rolesanywhere.us-east-1.amazonaws.com; check --endpoint',
    details: { attempt: 3 },
    cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:443' },
  });
  assert.equal(lines[0]?.includes('    at '), false);
  const withStacks = capture({ stacks: true });
  withStacks.logger.error('x', { err: new Error('y') });
  assert.match(String((withStacks.records()[0]?.err as { stack?: string }).stack), /at /);
});

test('child loggers add fields; call fields win; core keys cannot be overwritten', () => {
  const { logger, records } = capture();
  const child = logger.child({ listener: 'imds', a: 1 }).child({ b: 2 });
  child.info('m', { a: 3, level: 'error', msg: 'spoof', time: 'never' });
  const rec = records()[0];
  assert.equal(rec?.level, 'info');
  assert.equal(rec?.msg, 'm');
  assert.equal(rec?.time, '2026-01-02T03:04:05.678Z');
  assert.equal(rec?.listener, 'imds');
  assert.equal(rec?.a, 3);
  assert.equal(rec?.b, 2);
  assert.equal(rec?.field_level, 'error');
});

test('field sizes are bounded: long strings, deep nesting, wide objects, long arrays, cycles', () => {
  const { logger, lines, records } = capture({ limits: { maxString: 100, maxDepth: 3, maxEntries: 8 } });
  const deep = { l1: { l2: { l3: { l4: 'x' } } } };
  const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic.self = cyclic;
  logger.info('big', { long: 'a'.repeat(10_000), deep, wide, arr: Array.from({ length: 20 }, (_, i) => i), cyclic, buf: Buffer.alloc(5000), n: 10n });
  const rec = records()[0] as Record<string, unknown>;
  assert.ok(String(rec.long).length < 150);
  assert.deepEqual(rec.deep, { l1: { l2: '[Object]' } });
  assert.equal(Object.keys(rec.wide as object).length, 9);
  assert.equal((rec.arr as unknown[]).length, 9);
  assert.deepEqual(rec.cyclic, { name: 'c', self: '[Circular]' });
  assert.equal(rec.buf, '[5000 bytes]');
  assert.equal(rec.n, '10');
  assert.ok((lines[0]?.length ?? 0) < 2000);
  // A huge message is also bounded, and stays on one line.
  logger.info(`line1\nline2 ${'m'.repeat(10_000)}`);
  assert.equal(lines[1]?.split('\n').length, 2);
  assert.ok((lines[1]?.length ?? 0) < 400);
});

test('text format: time LEVEL msg key=value, secrets redacted', () => {
  const { logger, lines } = capture({ format: 'text' });
  logger.warn('refresh failed', { code: 'SERVICE_THROTTLED', attempt: 2, note: 'two words', sessionToken: SECRETS[1] });
  assert.equal(lines[0], '2026-01-02T03:04:05.678Z WARN "refresh failed" code=SERVICE_THROTTLED attempt=2 note="two words" sessionToken=[REDACTED]\n');
});
