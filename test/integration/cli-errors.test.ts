/**
 * Every error a user of `credential-process` must be able to act on, through the real CLI
 * process: the category's exit status, exactly one stderr line
 * `rolesanywhere-sidecar: <cause and fix> [CODE]`, the cause named (path, host, flag), no
 * stack trace, and no secret (password, key material) in it.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes, type ErrorCode } from '../../src/core/errors.js';
import { parseFaultSpec, type FaultPlan } from '../../src/emulator/index.js';
import { cleanup, cliEnv, runCli, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { openssl } from '../helpers/openssl-pki.js';

const PASSWORD = 'Tr0ub4dor&3-not-for-logs';
const LINE = /^rolesanywhere-sidecar: (.+) \[([A-Z0-9_]+)\]$/;

let pki: PkiFiles;
let other: PkiFiles;
let dir: string;
const files: Record<string, string> = {};
/** Lines of base64 key material that must never be echoed. */
const secrets: string[] = [PASSWORD];

function keyBodyLines(pem: string): string[] {
  return pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{20,}$/.test(l.trim()));
}

before(async () => {
  dir = tempDir('ras-err-');
  pki = await writePki(join(dir));
  other = await writePki(tempDir('ras-err-other-'));
  const day = 86_400_000;
  const expired = await pki.leaf('expired', 'ec-p256', { underRoot: true, notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) });
  const future = await pki.leaf('future', 'ec-p256', { underRoot: true, notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 30 * day) });
  files.expiredCert = expired.cert;
  files.expiredKey = expired.key;
  files.futureCert = future.cert;
  files.futureKey = future.key;
  files.garbage = join(dir, 'garbage.pem');
  writeFileSync(files.garbage, 'this file is not a certificate\n');
  files.garbageArmour = join(dir, 'garbage-armour.pem');
  writeFileSync(files.garbageArmour, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n');
  const certPem = readFileSync(pki.ec256.cert, 'utf8');
  files.truncated = join(dir, 'truncated.pem');
  writeFileSync(files.truncated, certPem.slice(0, Math.floor(certPem.length / 2)));
  files.encryptedKey = join(dir, 'encrypted.key');
  await openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', pki.ec256.key, '-passout', `pass:${PASSWORD}`, '-out', files.encryptedKey]);
  files.p12 = join(dir, 'bundle.p12');
  await openssl(['pkcs12', '-export', '-in', pki.ec256.cert, '-inkey', pki.ec256.key, '-passout', `pass:${PASSWORD}`, '-out', files.p12]);
  for (const k of [pki.ec256.key, pki.rsa.key, pki.ec384.key, other.ec256.key, files.expiredKey, files.futureKey])
    secrets.push(...keyBodyLines(readFileSync(k, 'utf8')));
});

after(() => {
  if (dir) cleanup(dir);
  if (other) cleanup(other.dir);
});

const ARNS = (): string[] => [
  '--trust-anchor-arn',
  'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7a9c3e-5d1f-4e2a-9b6c-8d4e2f1a3c5b',
  '--profile-arn',
  'arn:aws:rolesanywhere:us-east-1:123456789012:profile/6e2d4f8a-1c3b-4a5d-8e7f-9a0b1c2d3e4f',
  '--role-arn',
  'arn:aws:iam::123456789012:role/rolesanywhere-demo',
];

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Expect {
  readonly code: ErrorCode;
  /** Each must match the message: the cause (path, host, flag) and the fix. */
  readonly says: readonly RegExp[];
}

async function expectError(args: string[], e: Expect, o: { env?: Record<string, string> } = {}): Promise<string> {
  const r = await runCli(['credential-process', '--no-cache', ...args], { env: cliEnv(o.env ?? {}) });
  const ctx = `${args.join(' ')}\nstderr: ${r.stderr}`;
  assert.equal(r.stdout, '', `nothing on stdout: ${ctx}`);
  assert.equal(r.code, ErrorCodes[e.code].exit, `exit status of ${e.code}: ${ctx}`);
  assert.ok(r.stderr.endsWith('\n'), ctx);
  const lines = r.stderr.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `exactly one stderr line: ${ctx}`);
  const m = LINE.exec(lines[0]!);
  assert.ok(m, `stderr line shape: ${ctx}`);
  assert.equal(m[2], e.code, ctx);
  const message = m[1]!;
  for (const re of e.says) assert.match(message, re, ctx);
  assert.doesNotMatch(r.stderr, /\n\s+at |\bat [^\s]+\.js:\d+/, `no stack trace: ${ctx}`);
  assert.doesNotMatch(message, /--debug for details/, `a typed error, not a wrapped unexpected one: ${ctx}`);
  for (const s of secrets) assert.ok(!r.stderr.includes(s), `secret leaked into stderr: ${ctx}`);
  return message;
}

describe('input errors', { concurrency: 4 }, () => {
  const key = (): string[] => ['--private-key', pki.ec256.key];
  const endpoint = ['--endpoint', 'http://127.0.0.1:9'];

  test('missing certificate file', async () => {
    const path = join(dir, 'no-such-cert.pem');
    await expectError(['--certificate', path, ...key(), ...ARNS(), ...endpoint], {
      code: 'FILE_UNREADABLE',
      says: [new RegExp(path.replace(/[/.]/g, '\\$&')), /does not exist/, /--certificate/, /give the path of a readable file/],
    });
  });

  test('a directory given as the certificate', async () => {
    await expectError(['--certificate', dir, ...key(), ...ARNS(), ...endpoint], {
      code: 'FILE_UNREADABLE',
      says: [new RegExp(dir), /is a directory/, /--certificate/],
    });
  });

  test('missing private key file', async () => {
    const path = join(dir, 'no-such.key');
    await expectError(['--certificate', pki.ec256.cert, '--private-key', path, ...ARNS(), ...endpoint], {
      code: 'FILE_UNREADABLE',
      says: [/no-such\.key/, /--private-key/],
    });
  });

  test('garbage instead of PEM', async () => {
    await expectError(['--certificate', files.garbage!, ...key(), ...ARNS(), ...endpoint], {
      code: 'CERT_INVALID',
      says: [/garbage\.pem/, /cannot be parsed as X\.509/, /check that the file holds X\.509 certificates/],
    });
  });

  test('PEM armour around garbage', async () => {
    await expectError(['--certificate', files.garbageArmour!, ...key(), ...ARNS(), ...endpoint], {
      code: 'CERT_INVALID',
      says: [/garbage-armour\.pem/, /X\.509/],
    });
  });

  test('truncated PEM', async () => {
    await expectError(['--certificate', files.truncated!, ...key(), ...ARNS(), ...endpoint], {
      code: 'PEM_INVALID',
      says: [/truncated\.pem/, /truncated/, /complete, unmodified PEM/],
    });
  });

  test('key and certificate that do not match', async () => {
    await expectError(['--certificate', pki.ec256.cert, '--private-key', pki.ec384.key, ...ARNS(), ...endpoint], {
      code: 'KEY_CERT_MISMATCH',
      says: [/leaf-ec384\.key/, /leaf-ec256\.pem/, /use the key that belongs to this certificate/],
    });
  });

  test('wrong password for an encrypted PKCS#8 key (given on the command line)', async () => {
    await expectError(['--certificate', pki.ec256.cert, '--private-key', files.encryptedKey!, '--pkcs8-password', `${PASSWORD}x`, ...ARNS(), ...endpoint], {
      code: 'KEY_PASSWORD_WRONG',
      says: [/encrypted\.key/, /--pkcs8-password/],
    });
  });

  test('wrong password for a PKCS#12 bundle (from the environment)', async () => {
    await expectError(
      ['--certificate', files.p12!, ...ARNS(), ...endpoint],
      { code: 'KEY_PASSWORD_WRONG', says: [/bundle\.p12/, /password/] },
      { env: { ROLESANYWHERE_PKCS8_PASSWORD: 'wrong' } },
    );
  });

  test('no password for an encrypted key', async () => {
    await expectError(['--certificate', pki.ec256.cert, '--private-key', files.encryptedKey!, ...ARNS(), ...endpoint], {
      code: 'KEY_PASSWORD_REQUIRED',
      says: [/encrypted\.key/, /encrypted/, /--pkcs8-password/, /ROLESANYWHERE_PKCS8_PASSWORD/],
    });
  });

  test('expired certificate', async () => {
    await expectError(['--certificate', files.expiredCert!, '--private-key', files.expiredKey!, ...ARNS(), ...endpoint], {
      code: 'CERT_EXPIRED',
      says: [/expired\.pem/, /expired/],
    });
  });

  test('certificate not valid yet', async () => {
    await expectError(['--certificate', files.futureCert!, '--private-key', files.futureKey!, ...ARNS(), ...endpoint], {
      code: 'CERT_NOT_YET_VALID',
      says: [/future\.pem/, /not valid (yet|before)/i],
    });
  });
});

describe('command-line errors', { concurrency: 4 }, () => {
  const id = (): string[] => ['--certificate', pki.ec256.cert, '--private-key', pki.ec256.key];
  const endpoint = ['--endpoint', 'http://127.0.0.1:9'];

  test('unknown flag', async () => {
    await expectError([...id(), ...ARNS(), '--bogus-flag'], { code: 'CONFIG_INVALID', says: [/--bogus-flag/, /credential-process --help/] });
  });

  test('missing ARNs', async () => {
    await expectError([...id(), ...endpoint], { code: 'CONFIG_INVALID', says: [/--trust-anchor-arn/, /ROLESANYWHERE_TRUST_ANCHOR_ARN/] });
    const [, ta] = ARNS();
    await expectError([...id(), '--trust-anchor-arn', ta!, ...endpoint], { code: 'CONFIG_INVALID', says: [/--profile-arn/, /ROLESANYWHERE_PROFILE_ARN/] });
  });

  test('malformed ARN', async () => {
    const a = ARNS();
    a[1] = 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/not-a-trust-anchor';
    await expectError([...id(), ...a, ...endpoint], { code: 'ARN_INVALID', says: [/--trust-anchor-arn/, /trust-anchor\//] });
  });

  test('trust anchor and profile in different regions', async () => {
    const a = ARNS();
    a[3] = a[3]!.replace('us-east-1', 'eu-west-1');
    await expectError([...id(), ...a, ...endpoint], { code: 'REGION_MISMATCH', says: [/us-east-1/, /eu-west-1/, /same region/] });
  });

  test('--region differing from the trust anchor', async () => {
    await expectError([...id(), ...ARNS(), '--region', 'ap-south-1', ...endpoint], { code: 'REGION_MISMATCH', says: [/--region ap-south-1/, /us-east-1/] });
  });

  test('--session-duration 100', async () => {
    await expectError([...id(), ...ARNS(), '--session-duration', '100', ...endpoint], {
      code: 'CONFIG_INVALID',
      says: [/--session-duration/, /900 and 43200/, /got 100/],
    });
  });

  for (const [flag, ...value] of [
    ['--cert-selector', 'Key=x,Value=y'],
    ['--system-store-name', 'MY'],
  ]) {
    test(`${flag} refused on Linux, naming the macOS / Windows stores`, async () => {
      await expectError([...id(), ...ARNS(), flag!, ...value, ...endpoint], {
        code: 'NOT_SUPPORTED',
        says: [new RegExp(flag!), /not supported on Linux/, /Windows certificate store/, /pkcs11: URI/],
      });
    });
  }

  test('hardware-key inputs that are malformed: a bad pkcs11: URI, a handle outside the persistent range, a handle as certificate, both TPM password flags', async () => {
    await expectError(['--certificate', 'pkcs11:token=workload;objet=cert', ...ARNS(), ...endpoint], {
      code: 'CONFIG_INVALID',
      says: [/--certificate/, /PKCS#11 URI/, /unknown path attribute "objet"/],
    });
    await expectError(['--certificate', pki.ec256.cert, '--private-key', 'handle:0x01000001', ...ARNS(), ...endpoint], {
      code: 'CONFIG_INVALID',
      says: [/persistent TPM handle/, /0x81000000/],
    });
    await expectError(['--certificate', 'handle:0x81000001', ...ARNS(), ...endpoint], {
      code: 'CONFIG_INVALID',
      says: [/--certificate/, /only --private-key takes/],
    });
    await expectError([...id(), ...ARNS(), '--tpm-key-password', PASSWORD, '--no-tpm-key-password', ...endpoint], {
      code: 'CONFIG_INVALID',
      says: [/only one of --tpm-key-password and --no-tpm-key-password/],
    });
  });
});

describe('errors talking to the service', { concurrency: 3 }, () => {
  const id = (): string[] => ['--certificate', pki.rsa.cert, '--private-key', pki.rsa.key];

  test('unreachable endpoint (closed port): names the host, after bounded retries', async () => {
    const port = await closedPort();
    await expectError([...id(), ...ARNS(), '--endpoint', `http://127.0.0.1:${port}`], {
      code: 'ENDPOINT_UNREACHABLE',
      says: [new RegExp(`127\\.0\\.0\\.1:${port}`), /ECONNREFUSED/, /after 4 attempts/, /check DNS, firewalls/],
    });
  });

  test('unreachable proxy (HTTPS_PROXY to a closed port): names the proxy', async () => {
    const port = await closedPort();
    await expectError(
      [...id(), ...ARNS()],
      { code: 'ENDPOINT_UNREACHABLE', says: [/rolesanywhere\.us-east-1\.amazonaws\.com/, new RegExp(`proxy [^ ]*127\\.0\\.0\\.1:${port}`), /NO_PROXY/] },
      { env: { HTTPS_PROXY: `http://127.0.0.1:${port}` } },
    );
  });

  test('TLS failure (HTTPS emulator, CA not given): names the CA setting', async (t) => {
    const emu = await startTestEmulator(pki, { https: true });
    t.after(() => emu.stop());
    await expectError([...id(), ...ARNS(), '--endpoint', emu.env.ROLESANYWHERE_ENDPOINT!], {
      code: 'TLS_FAILURE',
      says: [/127\.0\.0\.1/, /not trusted/, /--ca-bundle/, /AWS_CA_BUNDLE/],
    });
    assert.equal(emu.stats().createSession.total, 0, 'no request got through');
  });

  test('403 from the service (leaf from an untrusted CA): carries the service message', async (t) => {
    const emu = await startTestEmulator(pki);
    t.after(() => emu.stop());
    await expectError(['--certificate', other.ec256.cert, '--private-key', other.ec256.key, ...ARNS(), '--endpoint', emu.env.ROLESANYWHERE_ENDPOINT!], {
      code: 'SERVICE_ACCESS_DENIED',
      says: [/HTTP 403 AccessDeniedException/, /untrusted signing certificate/, /chains to the trust anchor/],
    });
    assert.equal(emu.stats().createSession.total, 1, '403 is not retried');
  });

  const faulted = async (plan: FaultPlan, e: Expect, attempts: number): Promise<void> => {
    const emu = await startTestEmulator(pki, { faults: plan });
    try {
      await expectError([...id(), ...ARNS(), '--endpoint', emu.env.ROLESANYWHERE_ENDPOINT!], e);
      assert.equal(emu.stats().createSession.total, attempts);
    } finally {
      await emu.stop();
    }
  };

  test('5xx: persistent outage, after 4 attempts', async () => {
    await faulted({ outage: true }, { code: 'SERVICE_UNAVAILABLE', says: [/HTTP 503/, /emulated outage/, /after 4 attempts/, /try again later/] }, 4);
  });

  test('429: throttled on every attempt', async () => {
    await faulted(parseFaultSpec('4*429'), { code: 'SERVICE_THROTTLED', says: [/HTTP 429 ThrottlingException/, /after 4 attempts/, /rate-limited/] }, 4);
  });

  test('malformed response body, repeated', async () => {
    await faulted(parseFaultSpec('4*malformed'), { code: 'RESPONSE_MALFORMED', says: [/127\.0\.0\.1/] }, 4);
  });

  test('with an explicit --log-level warn the retries are logged too, the error line last', async () => {
    const port = await closedPort();
    const r = await runCli(['credential-process', '--no-cache', ...id(), ...ARNS(), '--endpoint', `http://127.0.0.1:${port}`, '--log-level', 'warn'], {
      env: cliEnv(),
    });
    assert.equal(r.code, ErrorCodes.ENDPOINT_UNREACHABLE.exit);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 4, r.stderr);
    for (const l of lines.slice(0, 3)) assert.equal((JSON.parse(l) as { msg: string }).msg, 'CreateSession attempt failed, retrying');
    assert.match(lines[3]!, LINE);
  });

  test('empty credential set, repeated', async () => {
    await faulted(parseFaultSpec('4*empty-set'), { code: 'RESPONSE_MALFORMED', says: [/credentialSet|credential set/i] }, 4);
  });
});
