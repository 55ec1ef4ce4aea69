import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { ManualClock, amzDate, type Random } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { LogFields, Logger } from '../core/logger.js';
import { parseAuthorization } from '../signing/canonical.js';
import {
  CreateSessionClient,
  nextClockOffset,
  parseDateHeader,
  SIGNING_WINDOW_MS,
  userAgentFor,
  type AttemptEvent,
  type CreateSessionClientOptions,
} from './client.js';
import { createDispatcher, type DispatcherOptions } from './http.js';
import { REFRESHER_RETRY_POLICY, type RetryPolicy } from './retry.js';
import {
  TEST_ARNS,
  TEST_SECRETS,
  makeTestIdentity,
  makeTestTls,
  sessionBody,
  startServer,
  verifyReceivedSignature,
  type Script,
  type TestServer,
} from '../../test/helpers/session-support.js';

const START = Date.UTC(2026, 10, 22, 15, 0, 0);
const ident = await makeTestIdentity('0a1b2c3d');

interface LogLine {
  level: string;
  msg: string;
  fields: LogFields | undefined;
}

function recordingLogger(lines: LogLine[], base: LogFields = {}): Logger {
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, fields: { ...base, ...fields } });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (f) => recordingLogger(lines, { ...base, ...f }) };
}

const fixedRandom = (x: number): Random => ({ float: () => x, bytes: (n) => Buffer.alloc(n) });

interface Harness {
  server: TestServer;
  client: CreateSessionClient;
  clock: ManualClock;
  delays: number[];
  events: AttemptEvent[];
  logs: LogLine[];
}

async function harness(
  t: TestContext,
  script: Script,
  o: {
    retry?: RetryPolicy;
    tls?: { cert: string; key: string };
    dispatcher?: DispatcherOptions;
    client?: Partial<CreateSessionClientOptions>;
    random?: number;
  } = {},
): Promise<Harness> {
  const server = await startServer(script, o.tls);
  const clock = new ManualClock(START);
  const delays: number[] = [];
  const events: AttemptEvent[] = [];
  const logs: LogLine[] = [];
  const client = new CreateSessionClient({
    endpoint: { url: new URL(`${server.origin}/`), region: 'us-east-1', host: server.host },
    params: { ...TEST_ARNS, durationSeconds: 3600 },
    identity: () => ident.identity,
    dispatcher: createDispatcher(o.dispatcher ?? {}),
    clock,
    random: fixedRandom(o.random ?? 0.5),
    logger: recordingLogger(logs),
    retry: o.retry ?? { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 20_000 },
    sleep: async (ms) => {
      delays.push(ms);
      clock.advance(ms);
    },
    onAttempt: (e) => events.push(e),
    userAgent: userAgentFor('9.9.9'),
    ...o.client,
  });
  t.after(async () => {
    await client.close();
    await server.close();
  });
  return { server, client, clock, delays, events, logs };
}

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  // These scripts run on the real clock while the client runs on a ManualClock in 2026-11:
  // Node's automatic Date header would look like a host clock days off. Tests of the clock
  // correction send their own Date.
  res.sendDate = false;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<SidecarError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SidecarError, `expected SidecarError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail(`expected ${code}`);
}

function assertNoSecrets(s: string): void {
  for (const v of Object.values(TEST_SECRETS)) assert.ok(!s.includes(v), 'a secret value leaked');
}

test('success: a signed POST /sessions, verified as the service would, returns the credentials', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 201, sessionBody('2026-11-22T16:00:00Z'), { 'x-amzn-requestid': 'r-1' }));
  const r = await h.client.createSession();
  assert.deepEqual(r.credentials, {
    ...TEST_SECRETS,
    expiration: Date.UTC(2026, 10, 22, 16, 0, 0),
    roleArn: TEST_ARNS.roleArn,
    accountId: '123456789012',
  });
  assert.equal(r.assumedRoleArn, 'arn:aws:sts::123456789012:assumed-role/test-role/0a1b2c3d');
  const [req] = h.server.requests;
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.ok(req.url.startsWith('/sessions?profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1'));
  assert.equal(req.body, '{"durationSeconds":3600}');
  assert.equal(req.headers.host, h.server.host);
  assert.equal(req.headers['user-agent'], 'rolesanywhere-sidecar/9.9.9');
  assert.equal(req.headers['x-amz-date'], amzDate(START));
  assert.equal(req.headers['x-amz-x509'], ident.identity.certificate.raw.toString('base64'));
  assert.ok(verifyReceivedSignature(req, ident.publicKey), 'the signature verifies against what arrived');
  assert.deepEqual(
    h.events.map((e) => [e.outcome, e.status, e.attempt]),
    [['success', 201, 1]],
  );
  assert.deepEqual(h.delays, []);
  assertNoSecrets(JSON.stringify(h.logs));
  // getCredentials is the CredentialSource view of the same call.
  assert.equal((await h.client.getCredentials()).accessKeyId, TEST_SECRETS.accessKeyId);
});

test('reset, then 500, then 201: three attempts, each re-signed with a fresh date and the current identity', async (t) => {
  const rotated = await makeTestIdentity('7f00aa01', 'rotated-workload');
  let calls = 0;
  const h = await harness(
    t,
    (_req, res, n) => {
      if (n === 1) res.socket?.destroy();
      else if (n === 2) reply(res, 500, '{"message":"internal"}');
      else reply(res, 201, sessionBody());
    },
    {
      // Delays of 1.5 s and 3 s move the clock past whole seconds, so X-Amz-Date must change.
      retry: { maxAttempts: 4, baseDelayMs: 2000, maxDelayMs: 20_000 },
      random: 0.75,
      client: {
        identity: (): Identity => {
          calls++;
          return calls < 3 ? ident.identity : rotated.identity;
        },
      },
    },
  );
  const r = await h.client.createSession();
  assert.equal(r.credentials.secretAccessKey, TEST_SECRETS.secretAccessKey);
  assert.equal(h.server.requests.length, 3);
  assert.deepEqual(h.delays, [1500, 3000]);
  const dates = h.server.requests.map((q) => q.headers['x-amz-date']);
  assert.deepEqual(dates, [amzDate(START), amzDate(START + 1500), amzDate(START + 4500)]);
  const auths = h.server.requests.map((q) => String(q.headers.authorization));
  assert.equal(new Set(auths).size, 3, 'every attempt carries its own signature');
  h.server.requests.forEach((q, i) => {
    assert.ok(verifyReceivedSignature(q, i < 2 ? ident.publicKey : rotated.publicKey), `attempt ${i + 1} verifies`);
  });
  assert.equal(parseAuthorization(auths[2]!)?.serial, BigInt('0x7f00aa01').toString(10), 'the rotated certificate signs attempt 3');
  assert.equal(h.server.requests[2]!.headers['x-amz-x509'], rotated.identity.certificate.raw.toString('base64'));
  assert.deepEqual(
    h.events.map((e) => [e.outcome, e.code, e.status, e.attempt]),
    [
      ['error', 'ENDPOINT_UNREACHABLE', undefined, 1],
      ['error', 'SERVICE_UNAVAILABLE', 500, 2],
      ['success', undefined, 201, 3],
    ],
  );
  const warns = h.logs.filter((l) => l.level === 'warn');
  assert.deepEqual(
    warns.map((w) => [w.fields?.code, w.fields?.attempt, w.fields?.delayMs]),
    [
      ['ENDPOINT_UNREACHABLE', 1, 1500],
      ['SERVICE_UNAVAILABLE', 2, 3000],
    ],
  );
  assert.equal(warns[1]?.fields?.status, 500);
  assertNoSecrets(JSON.stringify(h.logs));
});

test('429 with Retry-After: the wait honours it (plus jitter), then succeeds', async (t) => {
  const h = await harness(t, (_req, res, n) => {
    if (n === 1) reply(res, 429, '{"__type":"ThrottlingException","message":"Rate exceeded"}', { 'retry-after': '3' });
    else reply(res, 201, sessionBody());
  });
  await h.client.createSession();
  assert.deepEqual(h.delays, [3100], 'Retry-After 3 s plus 0.5 * 200 ms jitter');
  assert.equal(h.server.requests.length, 2);
  assert.notEqual(h.server.requests[0]!.headers['x-amz-date'], h.server.requests[1]!.headers['x-amz-date']);
});

test('429 on every attempt: SERVICE_THROTTLED after maxAttempts, naming the attempts', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 429, '{"message":"Rate exceeded"}', { 'x-amzn-errortype': 'ThrottlingException' }), {
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 20_000 },
  });
  const e = await rejectsWith(h.client.createSession(), 'SERVICE_THROTTLED');
  assert.equal(h.server.requests.length, 3);
  assert.equal(h.delays.length, 2);
  assert.ok(e.message.includes('after 3 attempts'), e.message);
  assert.ok(e.message.includes('Rate exceeded'));
  assert.equal(e.details.attempts, 3);
});

test('5xx on every attempt: SERVICE_UNAVAILABLE', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 503, '<html>unavailable</html>', { 'content-type': 'text/html' }), {
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 100 },
  });
  const e = await rejectsWith(h.client.createSession(), 'SERVICE_UNAVAILABLE');
  assert.equal(h.server.requests.length, 2);
  assert.equal(e.details.status, 503);
});

test('403 is not retried and carries the service message and request id', async (t) => {
  const h = await harness(t, (_req, res) =>
    reply(res, 403, '{"message":"Untrusted certificate. Insufficient certificate"}', {
      'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/',
      'x-amzn-requestid': '11111111-2222-3333-4444-555555555555',
    }),
  );
  const e = await rejectsWith(h.client.getCredentials(), 'SERVICE_ACCESS_DENIED');
  assert.equal(h.server.requests.length, 1);
  assert.deepEqual(h.delays, []);
  assert.ok(e.message.includes('Untrusted certificate. Insufficient certificate'));
  assert.equal(e.details.requestId, '11111111-2222-3333-4444-555555555555');
  assert.equal(e.retryable, false);
  assert.deepEqual(
    h.events.map((x) => [x.outcome, x.code, x.status]),
    [['error', 'SERVICE_ACCESS_DENIED', 403]],
  );
});

test('connection refused: ENDPOINT_UNREACHABLE naming the host and the attempts', async (t) => {
  const dead = await startServer(() => undefined);
  await dead.close();
  const clock = new ManualClock(START);
  const delays: number[] = [];
  const client = new CreateSessionClient({
    endpoint: { url: new URL(`${dead.origin}/`), region: 'us-east-1', host: dead.host },
    params: { ...TEST_ARNS, durationSeconds: 3600 },
    identity: () => ident.identity,
    dispatcher: createDispatcher(),
    clock,
    random: fixedRandom(0.5),
    retry: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 1000 },
    sleep: async (ms) => void delays.push(ms),
  });
  t.after(() => client.close());
  const e = await rejectsWith(client.createSession(), 'ENDPOINT_UNREACHABLE');
  assert.ok(e.message.includes(dead.host), e.message);
  assert.ok(e.message.includes('ECONNREFUSED'), e.message);
  assert.ok(e.message.includes('after 2 attempts'), e.message);
  assert.equal(e.details.attempts, 2);
  assert.deepEqual(delays, [50]);
});

test('an unreachable proxy is named in the message', async (t) => {
  const target = await startServer((_req, res) => reply(res, 201, sessionBody()));
  const deadProxy = await startServer(() => undefined);
  await deadProxy.close();
  t.after(() => target.close());
  const client = new CreateSessionClient({
    endpoint: { url: new URL(`${target.origin}/`), region: 'us-east-1', host: target.host },
    params: { ...TEST_ARNS, durationSeconds: 3600 },
    identity: () => ident.identity,
    dispatcher: createDispatcher({ proxy: { httpProxy: deadProxy.origin } }),
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    proxyDescription: deadProxy.origin,
  });
  t.after(() => client.close());
  const e = await rejectsWith(client.createSession(), 'ENDPOINT_UNREACHABLE');
  assert.ok(e.message.includes(`via proxy ${deadProxy.origin}`), e.message);
  assert.equal(target.requests.length, 0);
});

test('HTTPS with a private CA: TLS_FAILURE without the CA (not retried), success with caBundlePem or --no-verify-ssl', async (t) => {
  const pki = await makeTestTls();
  const tls = { cert: pki.serverCertPem, key: pki.serverKeyPem };
  const script: Script = (_req, res) => reply(res, 201, sessionBody());

  const bare = await harness(t, script, { tls, client: { caDescription: '--ca-bundle /etc/ssl/none.pem' } });
  const e = await rejectsWith(bare.client.createSession(), 'TLS_FAILURE');
  assert.ok(e.message.includes(bare.server.host), e.message);
  assert.ok(e.message.includes('--ca-bundle') && e.message.includes('AWS_CA_BUNDLE'), e.message);
  assert.ok(e.message.includes('/etc/ssl/none.pem'), e.message);
  assert.ok(e.message.includes('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), e.message);
  assert.equal(bare.events.length, 1, 'a TLS trust failure is not retried');
  assert.deepEqual(bare.delays, []);
  assert.equal(bare.server.requests.length, 0);

  const withCa = await harness(t, script, { tls, dispatcher: { caBundlePem: Buffer.from(pki.caPem) } });
  assert.equal((await withCa.client.getCredentials()).accessKeyId, TEST_SECRETS.accessKeyId);
  assert.equal(withCa.server.requests.length, 1);

  const insecure = await harness(t, script, { tls, dispatcher: { noVerifySsl: true } });
  assert.equal((await insecure.client.getCredentials()).accessKeyId, TEST_SECRETS.accessKeyId);
});

test('TLS to a plain HTTP server is a TLS_FAILURE, not a retry loop', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 201, sessionBody()));
  const client = new CreateSessionClient({
    endpoint: { url: new URL(`https://${h.server.host}/`), region: 'us-east-1', host: h.server.host },
    params: { ...TEST_ARNS, durationSeconds: 3600 },
    identity: () => ident.identity,
    dispatcher: createDispatcher(),
    sleep: async () => undefined,
  });
  t.after(() => client.close());
  await rejectsWith(client.createSession(), 'TLS_FAILURE');
});

test('a malformed 2xx is retried, then RESPONSE_MALFORMED', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 201, '{"credentialSet":[]}'), {
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
  });
  const e = await rejectsWith(h.client.createSession(), 'RESPONSE_MALFORMED');
  assert.ok(e.message.includes('empty credentialSet'));
  assert.equal(h.server.requests.length, 3);
  assert.equal(e.details.attempts, 3);
});

test('an oversized 2xx body (chunked, no Content-Length) is cut off as RESPONSE_MALFORMED', async (t) => {
  const h = await harness(
    t,
    (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    },
    { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } },
  );
  const e = await rejectsWith(h.client.createSession(), 'RESPONSE_MALFORMED');
  assert.ok(e.message.includes('larger than'));
});

test('a response that never comes is a TIMEOUT', async (t) => {
  const h = await harness(t, () => undefined, {
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    dispatcher: { headersTimeoutMs: 150 },
  });
  const e = await rejectsWith(h.client.createSession(), 'TIMEOUT');
  assert.ok(e.message.includes('waiting for the response'), e.message);
  assert.ok(e.message.includes('after 2 attempts'), e.message);
  assert.equal(h.server.requests.length, 2);
});

test('abort: before the first attempt, and while waiting to retry', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 503, ''));
  const early = new AbortController();
  early.abort(new Error('shutting down'));
  await assert.rejects(h.client.createSession(early.signal), /shutting down/);
  assert.equal(h.server.requests.length, 0);

  const ac = new AbortController();
  const client = new CreateSessionClient({
    endpoint: { url: new URL(`${h.server.origin}/`), region: 'us-east-1', host: h.server.host },
    params: { ...TEST_ARNS, durationSeconds: 3600 },
    identity: () => ident.identity,
    dispatcher: createDispatcher(),
    random: fixedRandom(0.5),
    sleep: async (_ms, signal) => {
      ac.abort(new Error('stop now'));
      signal?.throwIfAborted();
    },
  });
  t.after(() => client.close());
  await assert.rejects(client.createSession(ac.signal), /stop now/);
  assert.equal(h.server.requests.length, 1);
});

test('the real default sleep waits and retries', async (t) => {
  const h = await harness(t, (_req, res, n) => (n === 1 ? reply(res, 500, '') : reply(res, 201, sessionBody())), {
    client: { sleep: undefined as unknown as CreateSessionClientOptions['sleep'] },
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
  });
  await h.client.createSession();
  assert.equal(h.server.requests.length, 2);
});

test('errors from the identity getter are passed through without a request', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 201, sessionBody()), {
    client: {
      identity: () => {
        throw new SidecarError('CERT_EXPIRED', 'the certificate expired: renew it');
      },
    },
  });
  await rejectsWith(h.client.createSession(), 'CERT_EXPIRED');
  assert.equal(h.server.requests.length, 0);
});

test('a missing roleArn in the response falls back to the requested role', async (t) => {
  const body = JSON.stringify({ credentialSet: [{ credentials: { ...TEST_SECRETS, expiration: '2030-01-01T00:00:00Z' } }] });
  const h = await harness(t, (_req, res) => reply(res, 201, body));
  const c = await h.client.getCredentials();
  assert.equal(c.roleArn, TEST_ARNS.roleArn);
  assert.equal(c.accountId, '123456789012');
});

test('maxAttempts out of range is refused at construction', (t) => {
  const dispatcher = createDispatcher();
  t.after(() => dispatcher.close());
  assert.throws(
    () =>
      new CreateSessionClient({
        endpoint: { url: new URL('https://x/'), region: 'us-east-1', host: 'x' },
        params: { ...TEST_ARNS, durationSeconds: 3600 },
        identity: () => ident.identity,
        dispatcher,
        retry: { maxAttempts: 0, baseDelayMs: 1, maxDelayMs: 1 },
      }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID',
  );
});

// ---- clock skew ----------------------------------------------------------------------

test('nextClockOffset: only a refusal whose Date is outside the signing window changes the offset', () => {
  const local = START;
  const at = (status: number, serverDelta: number | undefined, current = 0) =>
    nextClockOffset({ status, serverDateMs: serverDelta === undefined ? undefined : local + serverDelta, localMs: local, currentOffsetMs: current });
  // The host clock 10 minutes slow: the server is 600 s ahead.
  assert.equal(at(403, 600_000), 600_000);
  assert.equal(at(401, -3_600_000), -3_600_000);
  // Rounded to whole seconds.
  assert.equal(at(403, 599_600), 600_000);
  // Within the window (plus Date's one-second resolution): refused for another reason.
  assert.equal(at(403, SIGNING_WINDOW_MS), undefined);
  assert.equal(at(403, -SIGNING_WINDOW_MS - 500), undefined);
  assert.equal(at(403, 30_000), undefined);
  // Not a refusal, or no Date: never corrected.
  for (const status of [200, 400, 404, 429, 500, 503]) assert.equal(at(status, 600_000), undefined, String(status));
  assert.equal(at(403, undefined), undefined);
  assert.equal(nextClockOffset({ status: 403, serverDateMs: Number.NaN, localMs: local, currentOffsetMs: 0 }), undefined);
  // An offset already in use that matches the server: the refusal has another cause.
  assert.equal(at(403, 600_000, 600_000), undefined);
  // The skew changed again (the clock drifted on): re-measured.
  assert.equal(at(403, 1_800_000, 600_000), 1_800_000);
  // The local clock was fixed while an offset was in use: the offset is dropped.
  assert.equal(at(403, 2_000, 600_000), 0);
});

test('parseDateHeader: HTTP dates only, bounded', () => {
  assert.equal(parseDateHeader('Sun, 22 Nov 2026 15:00:00 GMT'), Date.UTC(2026, 10, 22, 15, 0, 0));
  assert.equal(parseDateHeader(undefined), undefined);
  assert.equal(parseDateHeader(''), undefined);
  assert.equal(parseDateHeader('1700000000'), undefined);
  assert.equal(parseDateHeader('2026-11-22T15:00:00Z'), undefined);
  assert.equal(parseDateHeader(`Sun, ${'9'.repeat(80)}`), undefined);
  assert.equal(parseDateHeader('Sun, 99 Foo 2026 15:00:00 GMT'), undefined);
});

test('a refusal whose Date shows a slow host clock is signed again with the corrected time; later calls keep the correction', async (t) => {
  const skewMs = 10 * 60 * 1000;
  const signedAt: number[] = [];
  const skews: number[] = [];
  const h = await harness(
    t,
    (req, res) => {
      const date = req.headers['x-amz-date'] as string;
      const t0 = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
      signedAt.push(t0);
      const serverNow = h.clock.now() + skewMs;
      const headers = { date: new Date(serverNow).toUTCString() }; // START is on a whole second
      if (Math.abs(t0 - serverNow) > SIGNING_WINDOW_MS) {
        reply(res, 403, JSON.stringify({ message: 'Signature expired' }), { ...headers, 'x-amzn-errortype': 'AccessDeniedException' });
      } else {
        reply(res, 201, sessionBody(new Date(serverNow + 3_600_000).toISOString()), headers);
      }
    },
    { retry: { maxAttempts: 1, baseDelayMs: 200, maxDelayMs: 20_000 }, client: { onClockSkew: (ms) => skews.push(ms) } },
  );
  const first = await h.client.createSession();
  assert.equal(signedAt.length, 2, 'one refused attempt, one corrected attempt, even with a one-attempt policy');
  assert.equal(signedAt[1]! - signedAt[0]!, skewMs);
  assert.deepEqual(skews, [skewMs]);
  assert.equal(h.client.clockOffsetMs(), skewMs);
  assert.deepEqual(h.delays, [], 'no backoff for a clock correction');
  // Expiration in the local clock's terms: one hour from the local now.
  assert.equal(first.credentials.expiration, START + 3_600_000);
  const warns = h.logs.filter((l) => l.level === 'warn' && /host clock/.test(l.msg));
  assert.equal(warns.length, 1);
  assert.match(warns[0]!.msg, /10 min behind/);
  assert.match(warns[0]!.msg, /NTP/);

  h.clock.advance(60_000);
  await h.client.createSession();
  assert.equal(signedAt.length, 3, 'the next call is signed with the correction at once');
  assert.equal(h.logs.filter((l) => l.level === 'warn' && /host clock/.test(l.msg)).length, 1, 'warned once');
});

test('a refusal for another reason, with a Date that agrees, is not "corrected"', async (t) => {
  let n = 0;
  const h = await harness(t, (_req, res) => {
    n++;
    reply(res, 403, JSON.stringify({ message: 'Untrusted certificate' }), {
      date: new Date(h.clock.now() + 20_000).toUTCString(),
      'x-amzn-errortype': 'AccessDeniedException',
    });
  });
  await rejectsWith(h.client.createSession(), 'SERVICE_ACCESS_DENIED');
  assert.equal(n, 1);
  assert.equal(h.client.clockOffsetMs(), 0);
});

test('a success whose Date is far off never changes the signing clock', async (t) => {
  const h = await harness(t, (_req, res) => {
    reply(res, 201, sessionBody(), { date: new Date(h.clock.now() + 3_600_000).toUTCString() });
  });
  await h.client.createSession();
  assert.equal(h.client.clockOffsetMs(), 0);
});

test('under the refresher a 429 is not retried (a 503 still is) and its Retry-After reaches the caller', async (t) => {
  const h = await harness(t, (_req, res) => reply(res, 429, '{"message":"Rate exceeded"}', { 'retry-after': '3', 'x-amzn-errortype': 'ThrottlingException' }), {
    retry: REFRESHER_RETRY_POLICY,
  });
  const e = await rejectsWith(h.client.createSession(), 'SERVICE_THROTTLED');
  assert.equal(h.server.requests.length, 1);
  assert.deepEqual(h.delays, []);
  assert.equal(e.details.retryAfterMs, 3_000);
  let n = 0;
  const h2 = await harness(t, (_req, res) => (++n < 3 ? reply(res, 503, '{}') : reply(res, 201, sessionBody())), { retry: REFRESHER_RETRY_POLICY });
  await h2.client.createSession();
  assert.equal(h2.server.requests.length, 3);
});
