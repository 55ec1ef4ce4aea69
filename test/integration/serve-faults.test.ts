/**
 * `serve` under CreateSession faults, with short-lived credentials so they expire and are
 * replaced many times during the run, and clients polling both endpoints all along (every
 * answer checked by CredentialPoller). Also start-up without the service, listener errors,
 * and signals.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import { REFRESHER_RETRY_POLICY } from '../../src/session/index.js';
import { CredentialPoller } from '../helpers/credential-poller.js';
import { cleanup, cliEnv, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { jsV3, sdkEnv } from '../helpers/sdk-clients.js';
import {
  assertServable,
  containerCredentials,
  imdsCredentials,
  imdsToken,
  logLines,
  readyz,
  startServe,
  waitUntil,
  type ServeHandle,
} from '../helpers/serve-fixture.js';

/** Emulator credential lifetime: the sidecar refreshes at 5-7.5 s and stops serving at 15 s. */
const LIFETIME_S = 20;
const SERVE_ARGS = ['--min-remaining', '5'];

let pki: PkiFiles;
let home: string;

before(async () => {
  pki = await writePki();
  home = tempDir('ras-faults-home-');
});

after(() => cleanup(home, pki?.dir));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Log lines that mark the end of one refresher run (success or failure). */
function refresherRuns(stderr: string): number {
  return logLines(stderr).filter((l) => {
    const msg = String(l.msg ?? '');
    return msg.startsWith('credentials refreshed') || msg.startsWith('credential refresh failed');
  }).length;
}

/** One JS v3 default-chain round through each endpoint (real SDK, child process). */
async function jsRound(serve: ServeHandle, stsUrl: string): Promise<void> {
  const e = serve.exports;
  const sts = { url: stsUrl };
  const [a, b] = await Promise.all([
    jsV3('chain', sdkEnv(home, { AWS_EC2_METADATA_SERVICE_ENDPOINT: e.AWS_EC2_METADATA_SERVICE_ENDPOINT }), sts),
    jsV3(
      'chain',
      sdkEnv(home, {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: e.AWS_CONTAINER_CREDENTIALS_FULL_URI,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: e.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
      }),
      sts,
    ),
  ]);
  assert.match(a.arn, /:assumed-role\//);
  assert.match(b.arn, /:assumed-role\//);
}

interface Scenario {
  readonly emu: Awaited<ReturnType<typeof startTestEmulator>>;
  readonly serve: ServeHandle;
  readonly poller: CredentialPoller;
  readonly startedAt: number;
  /** Waits for a successful CreateSession after now. */
  okAfter(what: string, timeoutMs?: number): Promise<void>;
  /** Waits until a CreateSession after now runs into a fault (refreshes come every 5-7.5 s). */
  faultedAfter(what: string): Promise<void>;
}

/** Emulator + serve + pollers, all stopped when the test ends. */
async function scenario(t: TestContext, emuOptions: { faults?: { outage: boolean } } = {}, waitReady = true): Promise<Scenario> {
  const emu = await startTestEmulator(pki, { credentialLifetimeSeconds: LIFETIME_S, ...emuOptions });
  t.after(() => emu.stop());
  const startedAt = Date.now();
  const serve = await startServe(sessionArgs(pki.ec256, SERVE_ARGS), { env: emu.env });
  t.after(() => serve.cli.stop());
  if (waitReady) await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
  const poller = new CredentialPoller(serve.imds!, serve.container!, serve.token);
  poller.start();
  t.after(() => poller.stop());
  return {
    emu,
    serve,
    poller,
    startedAt,
    okAfter: async (what, timeoutMs = 20_000) => {
      const base = emu.stats().createSession.ok;
      await waitUntil(() => emu.stats().createSession.ok > base, `a successful CreateSession after ${what}`, timeoutMs);
    },
    faultedAfter: async (what) => {
      const base = emu.stats().createSession.faulted;
      await waitUntil(() => emu.stats().createSession.faulted > base, `a CreateSession hitting ${what}`, 20_000);
    },
  };
}

/**
 * Bounded CreateSession calls: each refresher run makes at most maxAttempts calls (one run
 * may still be in flight, not yet logged), runs are at least 500 ms apart (the refresher's
 * minimum retry delay; successful ones far more), and client requests never cause calls.
 */
function assertBoundedCalls(t: TestContext, s: Scenario, minRequestsPerCall = 10): void {
  const elapsed = Date.now() - s.startedAt;
  const calls = s.emu.stats().createSession.total;
  const runs = refresherRuns(s.serve.cli.stderr());
  const requests = s.poller.records.length;
  t.diagnostic(
    `CreateSession ${JSON.stringify(s.emu.stats().createSession)}; refresher runs ${runs}; client answers ${requests} ` +
      `(${s.poller.count((r) => r.status === 503)} x 503); ${elapsed} ms`,
  );
  assert.ok(runs >= 1);
  assert.ok(calls <= REFRESHER_RETRY_POLICY.maxAttempts * (runs + 1), `${calls} CreateSession calls for ${runs} refresher runs`);
  const maxRuns = 1 + Math.ceil(elapsed / 500);
  assert.ok(runs <= maxRuns, `${runs} refresher runs in ${elapsed} ms (bound ${maxRuns})`);
  assert.ok(calls * minRequestsPerCall < requests, `${calls} CreateSession calls for ${requests} client requests`);
}

// Every scenario below is independent (own emulator, sidecar and clients) and mostly waits
// for refreshes or processes, so they run side by side.
describe('serve under faults, listener errors, signals', { concurrency: true }, () => {
  describe('faults during refreshes, with expiring credentials', { concurrency: true }, () => {
    test('throttling, 5xx, dropped connections, a short outage: clients are always served, never expired or empty credentials', async (t) => {
      const s = await scenario(t);
      const { emu, serve, poller } = s;

      // Throttled: two 429s with Retry-After 2 on the next refreshes (the refresher waits them out),
      // then the token-bucket throttle (at most one call per 10 s) over a refresh.
      emu.faults.enqueue({ status: 429, retryAfterSeconds: 2 }, { status: 429, retryAfterSeconds: 2 });
      await jsRound(serve, emu.url.href);
      await waitUntil(() => emu.faults.state().pending === 0, '429 faults consumed', 20_000);
      await s.okAfter('the 429s');
      emu.faults.setThrottle(0.1);
      await s.faultedAfter('the throttle');
      emu.faults.setThrottle(undefined);
      await s.okAfter('the throttle');

      // 5xx and dropped connections, more than one refresh run's attempts, so the refresher's
      // own retry is needed; then a slow answer.
      emu.faults.enqueue({ status: 500 }, { drop: true }, { status: 503 }, { status: 502 }, { drop: true, delayMs: 300 }, { status: 500 }, { delayMs: 1500 });
      await waitUntil(() => emu.faults.state().pending === 0, '5xx and drop faults consumed', 30_000);
      await s.okAfter('the 5xx and drop faults');

      // A short outage over a refresh: the held credentials outlive it.
      emu.faults.setOutage(true);
      await s.faultedAfter('the outage');
      await sleep(2_000);
      emu.faults.setOutage(false);
      await s.okAfter('the short outage');
      await jsRound(serve, emu.url.href);
      await poller.stop();

      assert.deepEqual(poller.violations, []);
      assert.equal(
        poller.count((r) => r.status === 503),
        0,
        'no 503 while the sidecar held valid credentials',
      );
      // Every kind of fault reached the sidecar, and Retry-After was waited out.
      const lines = logLines(serve.cli.stderr());
      const retries = lines.filter((l) => l.msg === 'CreateSession attempt failed, retrying');
      // A 429 ends the refresh run at once; the refresher waits out Retry-After before the next.
      const throttled = lines.filter((l) => String(l.msg).startsWith('credential refresh failed') && l.code === 'SERVICE_THROTTLED');
      assert.ok(throttled.length >= 2, 'throttling seen');
      for (const l of throttled) assert.ok(Number(l.retryInMs) >= 1000, `waited ${String(l.retryInMs)} ms after a 429 with Retry-After`);
      assert.equal(retries.filter((l) => l.code === 'SERVICE_THROTTLED').length, 0, 'no quick client retries of a 429 under the refresher');
      assert.ok(
        retries.some((l) => l.status === 500 || l.status === 502 || l.status === 503),
        '5xx seen',
      );
      assert.ok(
        retries.some((l) => l.code === 'ENDPOINT_UNREACHABLE'),
        'dropped connections seen',
      );
      // Several credential generations went by: they expired and were replaced repeatedly.
      assert.ok(new Set(poller.records.map((r) => r.accessKeyId).filter(Boolean)).size >= 4);
      assertBoundedCalls(t, s);
    });

    test('an outage longer than the lifetime: 503 with a JSON body and /readyz 503, then recovery on its own', async (t) => {
      const s = await scenario(t);
      const { emu, serve, poller } = s;
      const ops = serve.ops!;
      // Let a refresh or two go by first, so the outage hits credentials being replaced.
      await s.okAfter('start-up');
      const beforeOutage = poller.newestExpiration;
      emu.faults.setOutage(true);
      await waitUntil(() => poller.count((r) => r.status === 503 && r.endpoint === 'imds') > 0, 'IMDS answering 503', LIFETIME_S * 1000 + 10_000);
      await waitUntil(() => poller.count((r) => r.status === 503 && r.endpoint === 'container') > 0, 'container answering 503', 5_000);
      const rz = await readyz(ops);
      assert.equal(rz.status, 503);
      assert.equal((JSON.parse(rz.body) as { status: string }).status, 'not ready');
      assert.match((JSON.parse(rz.body) as { reason: string }).reason, /SERVICE_UNAVAILABLE/);
      const tok = await imdsToken(serve.imds!);
      const imds503 = await imdsCredentials(serve.imds!, tok);
      assert.equal(imds503.status, 503);
      assert.equal((JSON.parse(imds503.body) as { Code: string }).Code, 'CredentialsUnavailable');
      const c503 = await containerCredentials(serve.container!, serve.token);
      assert.equal(c503.status, 503);
      assert.equal((JSON.parse(c503.body) as { code: string }).code, 'CredentialsUnavailable');
      await sleep(2_000);
      emu.faults.setOutage(false);
      const outageEnded = Date.now();

      // Recovery on its own: the refresher's retry delay is capped at 60 s.
      await waitUntil(async () => (await readyz(ops)).status === 200, '/readyz 200 after the outage', 70_000, 250);
      t.diagnostic(`recovered ${Date.now() - outageEnded} ms after the outage ended`);
      const fresh = assertServable(await containerCredentials(serve.container!, serve.token), 'container after recovery');
      assert.ok(Date.parse(fresh.Expiration) > beforeOutage, 'fresh credentials after the outage');
      assertServable(await imdsCredentials(serve.imds!, tok), 'IMDS after recovery');
      await waitUntil(() => poller.records.some((r) => r.status === 200 && r.at > outageEnded && r.endpoint === 'imds'), 'pollers served again', 5_000);
      await jsRound(serve, emu.url.href);
      await poller.stop();
      assert.deepEqual(poller.violations, []);
      assertBoundedCalls(t, s);
    });

    test('service down from the start: 503 (never empty credentials) until it is back, then served', async (t) => {
      const s = await scenario(t, { faults: { outage: true } }, false);
      const { emu, serve, poller } = s;
      // Several refresher runs fail (the first alone makes up to 4 attempts).
      await waitUntil(() => refresherRuns(serve.cli.stderr()) >= 2, 'two failed refresher runs');
      await waitUntil(() => poller.count((r) => r.status === 503) >= 4, 'clients answered 503');
      const rz = await readyz(serve.ops!);
      assert.equal(rz.status, 503);
      assert.match((JSON.parse(rz.body) as { reason: string }).reason, /no fresh credentials|no credentials yet/);
      assert.equal(
        poller.count((r) => r.status === 200),
        0,
      );
      assert.equal(emu.stats().createSession.ok, 0);

      emu.faults.setOutage(false);
      await waitUntil(async () => (await readyz(serve.ops!)).status === 200, '/readyz 200 once the service is back', 70_000, 250);
      await waitUntil(
        () => poller.count((r) => r.status === 200 && r.endpoint === 'imds') > 0 && poller.count((r) => r.status === 200 && r.endpoint === 'container') > 0,
        'credentials served',
      );
      await poller.stop();
      assert.deepEqual(poller.violations, []);
      // Short, so only the per-run bound is meaningful, and that no request caused a call.
      assertBoundedCalls(t, s, 1);
    });
  });

  describe('listener errors', () => {
    let emu: Awaited<ReturnType<typeof startTestEmulator>>;
    let blocker: Server;
    let takenPort: number;
    before(async () => {
      emu = await startTestEmulator(pki);
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      takenPort = (blocker.address() as { port: number }).port;
    });
    after(async () => {
      await new Promise((r) => blocker.close(r));
      await emu.stop();
    });

    for (const flag of ['--port', '--container-port', '--ops-port']) {
      test(`a port already taken (${flag}): exit 7, ADDRESS_IN_USE naming ${flag}`, async () => {
        const ports: Record<string, string> = { '--port': '0', '--container-port': '0', '--ops-port': '0', [flag]: String(takenPort) };
        const r = await runCli(['serve', ...Object.entries(ports).flat(), ...sessionArgs(pki.ec256)], { env: cliEnv(emu.env) });
        assert.equal(r.code, 7, r.stderr);
        assert.equal(r.stdout, '', 'no export lines for a sidecar that did not start');
        assert.match(r.stderr, /\[ADDRESS_IN_USE\]/);
        assert.match(r.stderr, new RegExp(`already in use.*${flag}\\b`));
      });
    }

    test('a non-loopback address is refused without --allow-non-loopback', async () => {
      const r = await runCli(['serve', '--address', '0.0.0.0', '--port', '0', '--container-port', '0', '--ops-port', '0', ...sessionArgs(pki.ec256)], {
        env: cliEnv(emu.env),
      });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /\[ADDRESS_NOT_ALLOWED\]/);
      assert.match(r.stderr, /--allow-non-loopback/);
    });
  });

  describe('signals', () => {
    let emu: Awaited<ReturnType<typeof startTestEmulator>>;
    before(async () => {
      emu = await startTestEmulator(pki);
    });
    after(() => emu.stop());

    /** Sends the request line, headers and half the body: the request is in flight until the rest arrives. */
    async function halfSentRequest(imds: URL, token: string): Promise<{ socket: Socket; finish(): Promise<string> }> {
      const socket = connect(Number(imds.port), imds.hostname);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      let response = '';
      socket.on('data', (c: Buffer) => (response += c.toString('utf8')));
      const ended = new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
      });
      socket.write(
        `GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: ${imds.host}\r\nx-aws-ec2-metadata-token: ${token}\r\nContent-Length: 10\r\n\r\n12345`,
      );
      return {
        socket,
        finish: async () => {
          socket.write('67890');
          await ended;
          return response;
        },
      };
    }

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      test(`${signal} while a request is in flight: the request is answered, exit 0 within the grace period`, async (t) => {
        const serve = await startServe(sessionArgs(pki.ec256), { env: emu.env });
        t.after(() => serve.cli.stop('SIGKILL'));
        await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'credentials');
        const token = await imdsToken(serve.imds!);
        const inFlight = await halfSentRequest(serve.imds!, token);
        t.after(() => inFlight.socket.destroy());
        const sentAt = Date.now();
        serve.cli.proc.kill(signal);
        await serve.cli.waitForStderr(/"msg":"shutting down"/, 5_000);
        const response = await inFlight.finish();
        assert.match(response, /^HTTP\/1\.1 200 /);
        assert.match(response, /\r\n\r\nrolesanywhere-demo$/);
        const exit = await Promise.race([serve.cli.exited(), sleep(10_000).then(() => 'timeout' as const)]);
        assert.notEqual(exit, 'timeout', `no exit within 10 s of ${signal}`);
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.ok(Date.now() - sentAt < 10_000);
        assert.match(serve.cli.stderr(), /"msg":"stopped"/);
      });
    }

    test('SIGHUP triggers an identity check and serving goes on', async (t) => {
      const serve = await startServe(sessionArgs(pki.ec256, ['--identity-poll-interval', '3600']), { env: emu.env });
      t.after(() => serve.cli.stop());
      await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'credentials');
      serve.cli.proc.kill('SIGHUP');
      await serve.cli.waitForStderr(/SIGHUP: checking the certificate and key files/, 5_000);
      assertServable(await containerCredentials(serve.container!, serve.token), 'container after SIGHUP');
      assert.equal(serve.cli.proc.exitCode, null, 'still running');
    });
  });
});
