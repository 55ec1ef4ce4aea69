/**
 * No secret ever reaches the sidecar's output, even with --debug: every endpoint and error
 * path is driven (IMDS with valid/invalid/missing tokens, bad TTLs and X-Forwarded-For,
 * container with right/wrong/missing tokens, 404s and 405s, ops), CreateSession fails and
 * is retried (including malformed 201 answers that CARRY canary secrets), the certificate is
 * rotated through a half-written file, and SIGHUP is sent. Then the whole stderr, and stdout
 * apart from the export lines, is searched for every secret the test saw: secret access keys
 * and session tokens served, the container token, IMDS tokens, and the private keys.
 * Run with both log formats, since each renders fields differently.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { ScriptedFault } from '../../src/emulator/index.js';
import { CredentialPoller } from '../helpers/credential-poller.js';
import { cleanup, startTestEmulator, tempDir, writePki, type LeafFiles, type PkiFiles } from '../helpers/harness.js';
import {
  assertServable,
  containerCredentials,
  httpRequest,
  imdsCredentials,
  imdsToken,
  logLines,
  readyz,
  startServe,
  waitUntil,
} from '../helpers/serve-fixture.js';

let pki: PkiFiles;
let work: string;

before(async () => {
  pki = await writePki();
  work = tempDir('ras-logs-');
});

after(() => cleanup(work, pki?.dir));

const canary = (label: string): string => `${label}${randomBytes(18).toString('base64').replace(/[+/=]/g, 'x')}`;

/** 201 answers that carry secrets but are not usable credentials: their errors must not echo them. */
function canaryFaults(secrets: Set<string>): ScriptedFault[] {
  const creds = (extra: Record<string, unknown>) => {
    const secretAccessKey = canary('CanarySecret');
    const sessionToken = canary('CanaryToken');
    secrets.add(secretAccessKey);
    secrets.add(sessionToken);
    return JSON.stringify({ credentialSet: [{ credentials: { accessKeyId: 'ASIACANARY0000000001', secretAccessKey, sessionToken, ...extra } }] });
  };
  return [
    { status: 201, body: creds({}) },
    { status: 201, body: creds({ expiration: 'not a date' }) },
    { status: 201, body: creds({ expiration: '2001-01-01T00:00:00Z' }) },
  ];
}

/** The strings that must never appear: each secret whole, and its first and last 16 characters. */
function needles(secrets: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of secrets) {
    if (s.length < 8) throw new Error(`a secret of ${s.length} characters is too short to search for`);
    out.set(s, s);
    if (s.length > 24) {
      out.set(s.slice(0, 16), `first 16 characters of ${s.slice(0, 4)}...`);
      out.set(s.slice(-16), `last 16 characters of ...${s.slice(-4)}`);
    }
  }
  return out;
}

/** Private key material in the forms a log could show it: PEM body lines, base64 DER, JWK `d`, hex. */
function keyNeedles(leaf: LeafFiles): string[] {
  const pem = leaf.issued.keyPem;
  const body = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  const der = leaf.issued.key.export({ format: 'der', type: 'pkcs8' });
  const jwk = leaf.issued.key.export({ format: 'jwk' });
  const d = String(jwk.d);
  return [...body.filter((l) => l.length >= 20), der.toString('base64'), d, Buffer.from(d, 'base64url').toString('hex')];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function driveEverything(t: TestContext, format: 'json' | 'text'): Promise<void> {
  const secrets = new Set<string>();
  const emu = await startTestEmulator(pki, {
    credentialLifetimeSeconds: 20,
    faults: { script: [{ status: 500 }, { drop: true }, ...canaryFaults(secrets), { status: 429, retryAfterSeconds: 1 }] },
  });
  t.after(() => emu.stop());
  const dir = join(work, format);
  mkdirSync(dir);
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const [l1, l2] = await Promise.all([
    pki.leaf(`logs-${format}-1`, 'ec-p256', { underRoot: true }),
    pki.leaf(`logs-${format}-2`, 'rsa-2048', { underRoot: true }),
  ]);
  writeFileSync(cert, l1.issued.certPem);
  writeFileSync(key, l1.issued.keyPem, { mode: 0o600 });

  const serve = await startServe(
    [
      '--certificate',
      cert,
      '--private-key',
      key,
      '--debug',
      '--log-format',
      format,
      '--identity-poll-interval',
      '1',
      '--rotation-jitter',
      '0',
      '--min-remaining',
      '5',
    ],
    { env: emu.env },
  );
  t.after(() => serve.cli.stop());
  secrets.add(serve.token);
  const poller = new CredentialPoller(serve.imds!, serve.container!, serve.token, 100);
  poller.start();
  t.after(() => poller.stop());
  await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'credentials after the scripted failures', 30_000);

  // IMDS: the happy path, then every refusal.
  const imds = serve.imds!;
  const tok = await imdsToken(imds);
  secrets.add(tok);
  const shortTok = await imdsToken(imds, 1);
  secrets.add(shortTok);
  for (const c of [assertServable(await imdsCredentials(imds, tok), 'IMDS')]) {
    secrets.add(c.SecretAccessKey);
    secrets.add(c.Token);
  }
  const credsPath = new URL('latest/meta-data/iam/security-credentials/', imds);
  const statuses: Array<[string, number, number]> = [];
  const expect = async (what: string, want: number, p: Promise<{ status: number }>) => statuses.push([what, want, (await p).status]);
  const wrongImdsToken = canary('WrongImdsToken');
  const wrongContainerToken = canary('WrongContainerToken');
  secrets.add(wrongImdsToken);
  secrets.add(wrongContainerToken);
  await expect('IMDS unknown token', 401, httpRequest(credsPath, { headers: { 'x-aws-ec2-metadata-token': wrongImdsToken } }));
  await expect('IMDS no token', 401, httpRequest(credsPath));
  await expect('IMDS token PUT without TTL', 400, httpRequest(new URL('latest/api/token', imds), { method: 'PUT' }));
  await expect(
    'IMDS token PUT bad TTL',
    400,
    httpRequest(new URL('latest/api/token', imds), { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '99999' } }),
  );
  await expect(
    'IMDS token PUT with X-Forwarded-For',
    403,
    httpRequest(new URL('latest/api/token', imds), { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '10.0.0.1' } }),
  );
  await expect('IMDS unknown role', 404, httpRequest(new URL('unknown-role', credsPath), { headers: { 'x-aws-ec2-metadata-token': tok } }));
  await expect('IMDS other path', 404, httpRequest(new URL('latest/meta-data/placement/region', imds), { headers: { 'x-aws-ec2-metadata-token': tok } }));
  await expect(
    'IMDS double slash',
    200,
    httpRequest(new URL(`${imds.href}/latest/meta-data/iam/security-credentials/`), { headers: { 'x-aws-ec2-metadata-token': tok } }),
  );
  // The extended path may be served or answered 404 (docs/sdk-endpoints.md); either is fine here.
  const extended = await httpRequest(new URL('latest/meta-data/iam/security-credentials-extended/', imds), { headers: { 'x-aws-ec2-metadata-token': tok } });
  assert.ok(extended.status === 200 || extended.status === 404, `extended path answered ${extended.status}`);
  await sleep(1_100);
  await expect('IMDS expired token', 401, httpRequest(credsPath, { headers: { 'x-aws-ec2-metadata-token': shortTok } }));

  // Container: right, wrong and missing token, other path and method.
  const container = serve.container!;
  const cc = assertServable(await containerCredentials(container, serve.token), 'container');
  secrets.add(cc.SecretAccessKey);
  secrets.add(cc.Token);
  await expect('container wrong token', 403, containerCredentials(container, wrongContainerToken));
  await expect('container Bearer token', 403, containerCredentials(container, `Bearer ${serve.token}`));
  await expect('container no token', 401, containerCredentials(container, undefined));
  await expect('container other path', 404, httpRequest(new URL('/other', container), { headers: { authorization: serve.token } }));
  await expect('container POST', 405, httpRequest(container, { method: 'POST', headers: { authorization: serve.token } }));

  // Ops.
  const ops = serve.ops!;
  await expect('healthz', 200, httpRequest(new URL('healthz', ops)));
  await expect('readyz', 200, httpRequest(new URL('readyz', ops)));
  await expect('metrics', 200, httpRequest(new URL('metrics', ops)));
  await expect('ops 404', 404, httpRequest(new URL('nothing', ops)));
  assert.deepEqual(
    statuses.filter(([, want, got]) => want !== got),
    [],
    'every request got the expected status',
  );

  // A refresh that fails and is retried, more canaries included.
  emu.faults.enqueue({ status: 500 }, { drop: true }, ...canaryFaults(secrets));
  await waitUntil(() => emu.faults.state().pending === 0, 'refresh faults consumed', 30_000);
  const okBefore = emu.stats().createSession.ok;
  await waitUntil(() => emu.stats().createSession.ok > okBefore, 'a successful refresh after the faults', 30_000);

  // Rotation through a half-written certificate, then SIGHUP.
  writeFileSync(cert, l2.issued.certPem.slice(0, 300));
  await serve.cli.waitForStderr(/identity reload failed/, 10_000);
  writeFileSync(cert, l2.issued.certPem);
  writeFileSync(key, l2.issued.keyPem, { mode: 0o600 });
  const fp2 = createHash('sha256').update(l2.issued.cert.raw).digest('hex');
  await waitUntil(() => emu.issued().some((r) => r.fingerprint === fp2), 'a CreateSession with the rotated certificate', 10_000);
  serve.cli.proc.kill('SIGHUP');
  await serve.cli.waitForStderr(/SIGHUP/, 5_000);
  await waitUntil(() => poller.records.some((r) => r.accessKeyId === emu.issued().at(-1)!.accessKeyId), 'the new credentials served', 5_000);

  await poller.stop();
  assert.deepEqual(poller.violations, []);
  for (const s of poller.secrets) secrets.add(s);
  for (const s of poller.imdsTokens) secrets.add(s);
  const exit = await serve.cli.stop();
  assert.deepEqual(exit, { code: 0, signal: null });

  // The paths were really driven and logged at debug level.
  const stderr = serve.cli.stderr();
  if (format === 'json') {
    const lines = logLines(stderr);
    assert.ok(
      lines.some((l) => l.level === 'debug'),
      'debug lines present',
    );
    assert.ok(lines.some((l) => l.msg === 'CreateSession attempt failed, retrying'));
    assert.ok(lines.some((l) => String(l.msg).startsWith('credential refresh failed')));
    assert.ok(
      lines.some((l) => l.code === 'RESPONSE_MALFORMED'),
      'the canary answers were rejected',
    );
  } else {
    assert.match(stderr, /DEBUG/);
    assert.match(stderr, /RESPONSE_MALFORMED/);
  }
  assert.match(stderr, /wrong Authorization token/);
  assert.match(stderr, /identity reload failed/);

  const stdoutRest = serve.cli
    .stdout()
    .split('\n')
    .filter((l) => l !== '' && !serve.exportLines.includes(l));
  assert.deepEqual(stdoutRest, [], 'stdout holds only the export lines');
  const haystack = `${stderr}\n${serve.cli.stdout()}`;

  const secretNeedles = needles(secrets);
  const keys = [...keyNeedles(l1), ...keyNeedles(l2)];
  t.diagnostic(`${format}: ${stderr.split('\n').length} log lines searched for ${secrets.size} secrets and ${keys.length} key fragments`);
  assert.ok(secrets.size >= 10);
  const found: string[] = [];
  for (const [needle, label] of secretNeedles) if (haystack.includes(needle)) found.push(label);
  for (const k of keys) if (haystack.includes(k)) found.push(`private key material ${k.slice(0, 6)}...`);
  assert.deepEqual(found, [], 'secrets found in the output');
}

describe('no secrets in the output, with --debug', { concurrency: true }, () => {
  test('JSON logs', async (t) => {
    await driveEverything(t, 'json');
  });
  test('text logs', async (t) => {
    await driveEverything(t, 'text');
  });
});
