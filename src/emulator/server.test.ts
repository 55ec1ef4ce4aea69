import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, isoSeconds } from '../core/clock.js';
import type { LogFields, Logger } from '../core/logger.js';
import { parseCreateSessionResponse } from '../session/response.js';
import { DEFAULT_ROLE_ARN, defaultEmulatorConfig } from './config.js';
import { issueCertificate } from './pki.js';
import { startEmulator, type RunningEmulator } from './server.js';
import {
  PKI_NOT_AFTER,
  PKI_NOT_BEFORE,
  TEST_NOW,
  createTestPki,
  decimalSerial,
  sendRaw,
  sendSigned,
  signWith,
  type TestPki,
} from '../../test/helpers/emulator-support.js';

/** The fields of a CreateSession answer these tests read. */
interface SessionBody {
  credentialSet: Array<{
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
    assumedRoleUser: { arn: string; assumedRoleId: string };
    sourceIdentity?: string;
  }>;
}

interface Line {
  level: string;
  msg: string;
  fields: LogFields;
}

function captureLogger(lines: Line[], base: LogFields = {}): Logger {
  const log =
    (level: string) =>
    (msg: string, fields: LogFields = {}) =>
      lines.push({ level, msg, fields: { ...base, ...fields } });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (f) => captureLogger(lines, { ...base, ...f }) };
}

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});

describe('emulator over HTTP', () => {
  let emu: RunningEmulator;
  const clock = new ManualClock(TEST_NOW);
  const lines: Line[] = [];
  before(async () => {
    emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), clock, logger: captureLogger(lines) });
  });
  after(() => emu.stop());

  test('answers a valid CreateSession with 201 and the service response shape', async () => {
    const signed = signWith(pki.leafRsa, { chain: [pki.intermediate.cert], host: emu.url.host, nowMs: clock.now() });
    const res = await sendSigned(emu.url, signed);
    assert.equal(res.status, 201, res.body);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.match(String(res.headers['x-amzn-requestid']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const doc = JSON.parse(res.body) as {
      credentialSet: Array<{
        assumedRoleUser: { arn: string; assumedRoleId: string };
        credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
        packedPolicySize: number;
        roleArn: string;
        sourceIdentity: string;
      }>;
      subjectArn: string;
    };
    assert.equal(doc.credentialSet.length, 1);
    const set = doc.credentialSet[0]!;
    const serialHex = BigInt(decimalSerial(pki.leafRsa.cert)).toString(16);
    assert.equal(set.assumedRoleUser.arn, `arn:aws:sts::123456789012:assumed-role/rolesanywhere-demo/${serialHex}`);
    assert.match(set.assumedRoleUser.assumedRoleId, new RegExp(`^AROA[A-Z0-9]{17}:${serialHex}$`));
    assert.match(set.credentials.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.match(set.credentials.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
    assert.ok(set.credentials.sessionToken.length > 500);
    assert.equal(set.credentials.expiration, isoSeconds(TEST_NOW + 3600_000));
    assert.equal(set.packedPolicySize, 0);
    assert.equal(set.roleArn, DEFAULT_ROLE_ARN);
    assert.equal(set.sourceIdentity, 'CN=workload-rsa');
    assert.match(doc.subjectArn, /^arn:aws:rolesanywhere:us-east-1:123456789012:subject\/[0-9a-f-]{36}$/);

    // The project's own response parser accepts it.
    const parsed = parseCreateSessionResponse(res.status, res.headers, res.body);
    assert.equal(parsed.credentials.accessKeyId, set.credentials.accessKeyId);
    assert.equal(parsed.credentials.expiration, TEST_NOW + 3600_000);

    const rec = emu.issued().find((r) => r.accessKeyId === set.credentials.accessKeyId);
    assert.ok(rec);
    assert.equal(rec.serialDecimal, decimalSerial(pki.leafRsa.cert));
    assert.equal(rec.fingerprint, pki.leafRsa.cert.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(rec.roleArn, DEFAULT_ROLE_ARN);
    assert.equal((rec as unknown as Record<string, unknown>).secretAccessKey, undefined, 'issued() never exposes secrets');

    // Secrets never reach the log.
    const logged = JSON.stringify(lines);
    assert.ok(logged.includes(set.credentials.accessKeyId), 'the access key id is logged');
    assert.ok(!logged.includes(set.credentials.secretAccessKey));
    assert.ok(!logged.includes(set.credentials.sessionToken.slice(20, 60)));
  });

  test('gives each session fresh credentials, and a chosen session name', async () => {
    const a = await sendSigned(
      emu.url,
      signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now(), params: { roleSessionName: 'ci-job-7', durationSeconds: 900 } }),
    );
    const b = await sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now() }));
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    const ca = (JSON.parse(a.body) as SessionBody).credentialSet[0]!;
    const cb = (JSON.parse(b.body) as SessionBody).credentialSet[0]!;
    assert.notEqual(ca.credentials.accessKeyId, cb.credentials.accessKeyId);
    assert.notEqual(ca.credentials.secretAccessKey, cb.credentials.secretAccessKey);
    assert.equal(ca.assumedRoleUser.arn, 'arn:aws:sts::123456789012:assumed-role/rolesanywhere-demo/ci-job-7');
    assert.equal(ca.credentials.expiration, isoSeconds(TEST_NOW + 900_000));
  });

  test('answers a rejected request with the status, X-Amzn-ErrorType and a JSON message', async () => {
    const signed = signWith(pki.leafRsa, { host: emu.url.host, nowMs: clock.now() }); // no intermediate
    const res = await sendSigned(emu.url, signed);
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-amzn-errortype'], 'AccessDeniedException');
    assert.match((JSON.parse(res.body) as { message: string }).message, /untrusted signing certificate/);

    const bad = await sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now(), params: { durationSeconds: 899 } }));
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['x-amzn-errortype'], 'ValidationException');
  });

  test('verifies at its own clock', async () => {
    const signed = signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now() });
    clock.advance(6 * 60_000);
    try {
      const res = await sendSigned(emu.url, signed);
      assert.equal(res.status, 403);
      assert.match((JSON.parse(res.body) as { message: string }).message, /signature expired/);
    } finally {
      clock.advance(-6 * 60_000);
    }
  });

  test('answers unknown paths with 404 and keeps the admin API off by default', async () => {
    for (const path of ['/__emulator/stats', '/__emulator/issued', '/nope']) {
      const res = await sendRaw(emu.url, 'GET', path, [], '');
      assert.equal(res.status, 404, path);
      assert.equal(res.headers['x-amzn-errortype'], 'UnknownOperationException');
    }
    const res = await sendRaw(emu.url, 'POST', '/__emulator/faults', [['content-type', 'application/json']], '{"outage":true}');
    assert.equal(res.status, 404);
    assert.equal(emu.faults.state().outage, false);
  });

  test('refuses bodies over 64 KiB', async () => {
    const res = await sendRaw(emu.url, 'POST', '/sessions', [['content-type', 'application/json']], Buffer.alloc(70 * 1024, 0x20));
    assert.equal(res.status, 400);
    assert.equal(res.headers['x-amzn-errortype'], 'ValidationException');
  });

  test('counts what it saw', () => {
    const s = emu.stats();
    assert.equal(s.createSession.ok, 3);
    assert.equal(s.createSession.rejected, 3);
    assert.equal(s.createSession.faulted, 0);
    assert.equal(s.createSession.total, 6);
  });
});

describe('faults', () => {
  let emu: RunningEmulator;
  const clock = new ManualClock(TEST_NOW);
  before(async () => {
    emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), clock });
  });
  after(() => emu.stop());
  const call = () => sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now() }));

  test('scripted answers are consumed in order: 429 with Retry-After, 500, drop, delay, then normal', async () => {
    emu.faults.enqueue({ status: 429, retryAfterSeconds: 2 }, { status: 500 }, { drop: true }, { delayMs: 30 });
    assert.equal(emu.faults.state().pending, 4);
    const r1 = await call();
    assert.equal(r1.status, 429);
    assert.equal(r1.headers['retry-after'], '2');
    assert.equal(r1.headers['x-amzn-errortype'], 'ThrottlingException');
    const r2 = await call();
    assert.equal(r2.status, 500);
    await assert.rejects(call(), (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET' || /socket hang up/.test(e.message));
    const r4 = await call();
    assert.equal(r4.status, 201);
    const r5 = await call();
    assert.equal(r5.status, 201);
    assert.equal(emu.faults.state().pending, 0);
    assert.deepEqual(emu.stats().createSession, { total: 5, ok: 2, rejected: 0, faulted: 3 });
  });

  test('scripted bodies: an empty credential set and malformed JSON', async () => {
    emu.faults.enqueue({ status: 201, body: '{"credentialSet":[]}' }, { status: 201, body: '{"credentialSet":[{' });
    const r1 = await call();
    assert.equal(r1.status, 201);
    assert.equal(r1.body, '{"credentialSet":[]}');
    const r2 = await call();
    assert.equal(r2.body, '{"credentialSet":[{');
    assert.throws(() => parseCreateSessionResponse(r2.status, r2.headers, r2.body), /not JSON/);
  });

  test('outage answers 503 until switched off', async () => {
    emu.faults.setOutage(true);
    const r1 = await call();
    assert.equal(r1.status, 503);
    assert.equal(r1.headers['x-amzn-errortype'], 'ServiceUnavailableException');
    emu.faults.setOutage(false);
    assert.equal((await call()).status, 201);
  });

  test('throttling follows the emulator clock', async () => {
    emu.faults.setThrottle(1);
    try {
      assert.equal((await call()).status, 201);
      const limited = await call();
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '1');
      clock.advance(1000);
      assert.equal((await call()).status, 201);
    } finally {
      emu.faults.setThrottle(undefined);
    }
  });

  test('rejects malformed faults', () => {
    assert.throws(() => emu.faults.enqueue({ status: 99 }), /status must be an HTTP status/);
    assert.throws(() => emu.faults.enqueue({ drop: true, status: 500 } as never), /drop fault takes only delayMs/);
  });

  test('stop cuts a pending delay short', async () => {
    const own = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), clock, faults: { script: [{ delayMs: 60_000 }] } });
    const pending = sendSigned(own.url, signWith(pki.leafEc256, { host: own.url.host, nowMs: clock.now() }));
    // Let the request arrive before stopping.
    while (own.stats().createSession.total === 0) await new Promise((r) => setTimeout(r, 5));
    await own.stop();
    await assert.rejects(pending);
  });
});

describe('admin API (adminApi: true)', () => {
  let emu: RunningEmulator;
  const clock = new ManualClock(TEST_NOW);
  before(async () => {
    emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert] }), clock, adminApi: true });
  });
  after(() => emu.stop());
  const json = [['content-type', 'application/json']] as const;

  test('scripts faults, reports stats and lists issued sessions without secrets', async () => {
    const set = await sendRaw(
      emu.url,
      'POST',
      '/__emulator/faults',
      json,
      JSON.stringify({ faults: [{ status: 503 }, { status: 429, retryAfterSeconds: 1 }] }),
    );
    assert.equal(set.status, 200, set.body);
    assert.deepEqual(JSON.parse(set.body), { pending: 2, outage: false, throttlePerSecond: null });
    const call = () => sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now() }));
    assert.equal((await call()).status, 503);
    assert.equal((await call()).status, 429);
    const ok = await call();
    assert.equal(ok.status, 201);
    const issuedKey = (JSON.parse(ok.body) as SessionBody).credentialSet[0]!.credentials.accessKeyId;

    const stats = JSON.parse((await sendRaw(emu.url, 'GET', '/__emulator/stats', [], '')).body) as { createSession: unknown };
    assert.deepEqual(stats.createSession, { total: 3, ok: 1, rejected: 0, faulted: 2 });
    const issued = await sendRaw(emu.url, 'GET', '/__emulator/issued', [], '');
    assert.equal(issued.status, 200);
    const list = JSON.parse(issued.body) as Array<Record<string, unknown>>;
    assert.equal(list.length, 1);
    assert.equal(list[0]!.accessKeyId, issuedKey);
    assert.equal(list[0]!.serialDecimal, decimalSerial(pki.leafEc256.cert));
    assert.ok(!issued.body.includes((JSON.parse(ok.body) as SessionBody).credentialSet[0]!.credentials.secretAccessKey));
    assert.ok(!('sessionToken' in list[0]!));
  });

  test('switches outage and throttling, and clears', async () => {
    let r = await sendRaw(emu.url, 'POST', '/__emulator/faults', json, JSON.stringify({ outage: true, throttlePerSecond: 5 }));
    assert.deepEqual(JSON.parse(r.body), { pending: 0, outage: true, throttlePerSecond: 5 });
    r = await sendRaw(emu.url, 'POST', '/__emulator/faults', json, JSON.stringify({ clear: true }));
    assert.deepEqual(JSON.parse(r.body), { pending: 0, outage: false, throttlePerSecond: null });
  });

  test('refuses malformed admin requests with a reason', async () => {
    for (const body of ['not json', '{"faults":[{"status":"x"}]}', '{"bogus":1}', '{"faults":{}}']) {
      const r = await sendRaw(emu.url, 'POST', '/__emulator/faults', json, body);
      assert.equal(r.status, 400, body);
      assert.ok((JSON.parse(r.body) as { message: string }).message.length > 0);
    }
  });
});

test('serves HTTPS with a certificate from a private CA', async () => {
  const ca = await issueCertificate({
    subject: 'CN=Emulator TLS CA',
    keySpec: 'ec-p256',
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    isCa: true,
  });
  const server = await issueCertificate(
    {
      subject: 'CN=localhost',
      keySpec: 'ec-p256',
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 86400_000),
      serverNames: { dns: ['localhost'], ips: ['127.0.0.1'] },
    },
    ca,
  );
  const clock = new ManualClock(TEST_NOW);
  const emu = await startEmulator({
    config: defaultEmulatorConfig({ roots: [pki.root.cert] }),
    clock,
    tls: { certPem: server.certPem, keyPem: server.keyPem },
  });
  try {
    assert.equal(emu.url.protocol, 'https:');
    const signed = signWith(pki.leafEc384, { chain: [pki.intermediate.cert], host: emu.url.host, nowMs: clock.now() });
    const res = await sendSigned(emu.url, signed, { ca: ca.certPem });
    assert.equal(res.status, 201, res.body);
    // Without the CA the client refuses the server, as it would an untrusted endpoint.
    await assert.rejects(sendSigned(emu.url, signed), (e: NodeJS.ErrnoException) => /certificate/i.test(e.message));
  } finally {
    await emu.stop();
  }
});

test('refuses an invalid world at start', async () => {
  const leafOnly = await issueCertificate({ subject: 'CN=not a ca', keySpec: 'ec-p256', notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER });
  const config = {
    ...defaultEmulatorConfig({ roots: [pki.root.cert] }),
    trustAnchors: [{ arn: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/x', roots: [leafOnly.cert] }],
  };
  await assert.rejects(startEmulator({ config }), /not a CA certificate/);
});

test('credentialLifetimeSeconds caps the issued lifetime', async () => {
  const clock = new ManualClock(TEST_NOW);
  const emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert], credentialLifetimeSeconds: 60 }), clock });
  try {
    const res = await sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: clock.now() }));
    assert.equal(res.status, 201);
    assert.equal((JSON.parse(res.body) as SessionBody).credentialSet[0]!.credentials.expiration, isoSeconds(TEST_NOW + 60_000));
  } finally {
    await emu.stop();
  }
});
