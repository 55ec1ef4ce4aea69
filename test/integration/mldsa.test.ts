/**
 * ML-DSA end to end on Node 24 (installed under .cache/node24 by the test runner, see
 * test/helpers/node24.ts): an ML-DSA CA and
 * ML-DSA-44/65/87 leaves made at test time, the emulator AND credential-process both running
 * as Node 24 processes, and a recording proxy in between to see that the request really is
 * signed with AWS4-X509-MLDSA and that the emulator really verifies it. On this test's own
 * Node (20) the same key must fail with the clear KEY_UNSUPPORTED message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes } from '../../src/core/errors.js';
import { cleanup, cliEnv, parseExports, runCli, startCli, tempDir, type RunningCli } from '../helpers/harness.js';
import { MLDSA_SIGNATURE_BYTES, MLDSA_VARIANTS, NODE24, writeMldsaPki, type MldsaPki } from '../helpers/mldsa-pki.js';
import { startRecordingProxy, type RecordingProxy } from '../helpers/recording-proxy.js';
import { skipOutsideCi } from '../helpers/tools.js';

const HAVE_NODE24 = existsSync(NODE24);
const SKIP = skipOutsideCi(HAVE_NODE24 ? false : `Node 24 binary ${NODE24} is absent (npm run node24 installs it; the test runner tries to)`);
const OUTPUT =
  /^\{"Version":1,"AccessKeyId":"ASIA[A-Z0-9]{16}","SecretAccessKey":"[^"]{40}","SessionToken":"[^"]+","Expiration":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\}\n$/;
const FIXTURE_CERT = fileURLToPath(new URL('../../../test/fixtures/identity/mldsa65-cert.pem', import.meta.url));
const FIXTURE_KEY = fileURLToPath(new URL('../../../test/fixtures/identity/mldsa65-key.pem', import.meta.url));

function node24(code: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(NODE24, ['--input-type=module', '-e', code, '--', ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr)) : resolve(stdout),
    );
  });
}

async function startEmulator24(caPath: string): Promise<{ cli: RunningCli; env: Record<string, string> }> {
  const cli = startCli(['emulator', '--trust-anchor-ca', caPath, '--port', '0', '--log-level', 'error'], { node: NODE24 });
  const env = parseExports(await cli.waitForLines(4));
  assert.match(env.ROLESANYWHERE_ENDPOINT ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  return { cli, env };
}

describe('ML-DSA on Node 24', { skip: SKIP }, () => {
  let dir: string;
  let pki: MldsaPki;
  let emu: { cli: RunningCli; env: Record<string, string> };
  let proxy: RecordingProxy;

  before(async () => {
    dir = tempDir('ras-mldsa-');
    pki = await writeMldsaPki(dir);
    emu = await startEmulator24(pki.caPath);
    proxy = await startRecordingProxy(new URL(emu.env.ROLESANYWHERE_ENDPOINT!));
  });
  after(async () => {
    await proxy?.stop();
    if (emu) {
      const r = await emu.cli.stop();
      assert.equal(r.code, 0, `emulator exit; stderr: ${emu.cli.stderr()}`);
    }
    if (dir) cleanup(dir);
  });

  const env = (): Record<string, string> => cliEnv({ ...emu.env, ROLESANYWHERE_ENDPOINT: proxy.endpoint });

  for (const variant of MLDSA_VARIANTS) {
    test(`${variant}: credential-process (Node 24) against the emulator (Node 24), signed AWS4-X509-MLDSA`, async () => {
      const leaf = pki.leaves[variant];
      const before = proxy.requests.length;
      const r = await runCli(['credential-process', '--certificate', leaf.cert, '--private-key', leaf.key, '--no-cache'], { node: NODE24, env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, OUTPUT);
      assert.equal(proxy.requests.length, before + 1);
      const sent = proxy.requests[before]!;
      assert.equal(sent.status, 201);
      const serial = BigInt(`0x${leaf.serialHex}`).toString(10);
      const m = new RegExp(
        `^AWS4-X509-MLDSA Credential=${serial}/\\d{8}/us-east-1/rolesanywhere/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=([0-9a-f]+)$`,
      ).exec(String(sent.headers.authorization));
      assert.ok(m, `Authorization: ${String(sent.headers.authorization).slice(0, 200)}`);
      assert.equal(m[1]!.length / 2, MLDSA_SIGNATURE_BYTES[variant], `a ${variant} signature`);
      assert.equal(Buffer.from(String(sent.headers['x-amz-x509']), 'base64').equals(new X509Certificate(readFileSync(leaf.cert)).raw), true);
    });
  }

  test('the emulator on Node 24 rejects an ML-DSA signature with one changed byte', async () => {
    const leaf = pki.leaves['ML-DSA-65'];
    proxy.tamperNext((h) => {
      const auth = String(h.authorization);
      const i = auth.lastIndexOf('=') + 1;
      return { ...h, authorization: `${auth.slice(0, i)}${auth[i] === '0' ? '1' : '0'}${auth.slice(i + 1)}` };
    });
    const r = await runCli(['credential-process', '--certificate', leaf.cert, '--private-key', leaf.key, '--no-cache'], { node: NODE24, env: env() });
    assert.equal(r.code, ErrorCodes.SERVICE_ACCESS_DENIED.exit, r.stderr);
    assert.match(r.stderr, /^rolesanywhere-sidecar: .*HTTP 403 AccessDeniedException: "invalid signature.* \[SERVICE_ACCESS_DENIED\]\n$/);
    assert.equal(proxy.requests.at(-1)!.status, 403);
  });

  test('sign-string and read-certificate-data with ML-DSA (Node 24)', async () => {
    const leaf = pki.leaves['ML-DSA-87'];
    const data = 'ml-dsa sign-string test\n';
    const r = await runCli(['sign-string', '--certificate', leaf.cert, '--private-key', leaf.key, '--format', 'json'], {
      node: NODE24,
      env: cliEnv(),
      stdin: data,
    });
    assert.equal(r.code, 0, r.stderr);
    const signature = JSON.parse(r.stdout) as string;
    assert.equal(signature.length / 2, MLDSA_SIGNATURE_BYTES['ML-DSA-87']);
    // Verified by Node 24's crypto, outside the sidecar: pure ML-DSA over the raw bytes.
    const ok = await node24(
      `import { verify, X509Certificate } from 'node:crypto'; import { readFileSync } from 'node:fs';
       const [cert, sig, data] = process.argv.slice(-3);
       process.stdout.write(String(verify(null, Buffer.from(data), new X509Certificate(readFileSync(cert)).publicKey, Buffer.from(sig, 'hex'))));`,
      [leaf.cert, signature, data],
    );
    assert.equal(ok, 'true');

    const rc = await runCli(['read-certificate-data', '--certificate', leaf.cert], { node: NODE24, env: cliEnv() });
    assert.equal(rc.code, 0, rc.stderr);
    const info = JSON.parse(rc.stdout) as { keyType: string; serialNumber: string; supportedAlgorithms: string[]; certificateData: string };
    assert.equal(info.keyType, 'ML-DSA');
    assert.deepEqual(info.supportedAlgorithms, ['ML-DSA']);
    assert.equal(info.serialNumber, BigInt(`0x${leaf.serialHex}`).toString(10));
    assert.ok(Buffer.from(info.certificateData, 'base64').equals(new X509Certificate(readFileSync(leaf.cert)).raw));
  });

  test('the committed fixture (test/fixtures/identity/mldsa65-*) is a self-signed end-entity: the emulator refuses it as a trust anchor', async () => {
    const cert = new X509Certificate(readFileSync(FIXTURE_CERT));
    assert.equal(cert.ca, false);
    assert.equal(cert.subject, cert.issuer, 'self-signed');
    const r = await runCli(['emulator', '--trust-anchor-ca', FIXTURE_CERT, '--port', '0'], { node: NODE24, env: cliEnv(), timeoutMs: 20_000 });
    assert.equal(r.code, ErrorCodes.CONFIG_INVALID.exit, r.stderr);
    assert.match(
      r.stderr,
      /^rolesanywhere-sidecar: trust anchor .* holds "CN=mldsa-65 workload, O=Example", which is not a CA certificate .*use the issuing CA's certificate \[CONFIG_INVALID\]\n$/,
    );
  });
});

// The committed fixture is enough here: on Node 20 the key is refused before anything else.
describe('ML-DSA on Node 20 (this runtime)', () => {
  const LINE = /^rolesanywhere-sidecar: (.+) \[KEY_UNSUPPORTED\]\n$/;

  test('credential-process refuses the ML-DSA key with KEY_UNSUPPORTED naming Node >= 24.7', async () => {
    assert.ok(Number(process.versions.node.split('.')[0]) < 24, 'this suite runs on Node 20');
    const r = await runCli(
      [
        'credential-process',
        '--certificate',
        FIXTURE_CERT,
        '--private-key',
        FIXTURE_KEY,
        '--no-cache',
        '--endpoint',
        'http://127.0.0.1:9',
        '--trust-anchor-arn',
        'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a',
        '--profile-arn',
        'arn:aws:rolesanywhere:us-east-1:123456789012:profile/b',
        '--role-arn',
        'arn:aws:iam::123456789012:role/r',
      ],
      { env: cliEnv() },
    );
    assert.equal(r.code, ErrorCodes.KEY_UNSUPPORTED.exit);
    assert.equal(r.stdout, '');
    const m = LINE.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.match(m[1]!, /ML-DSA-65/);
    assert.match(m[1]!, /Node\.js >= 24\.7/);
    assert.match(m[1]!, new RegExp(`this is ${process.version.replace(/\./g, '\\.')}`));
    assert.match(m[1]!, /mldsa65-key\.pem/);
  });

  test('read-certificate-data names Node >= 24.7 too (not an INTERNAL OpenSSL decode error)', async () => {
    const r = await runCli(['read-certificate-data', '--certificate', FIXTURE_CERT], { env: cliEnv() });
    assert.equal(r.code, ErrorCodes.KEY_UNSUPPORTED.exit, r.stderr);
    const m = LINE.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.match(m[1]!, /mldsa65-cert\.pem holds an ML-DSA-65 certificate/);
    assert.match(m[1]!, /Node\.js >= 24\.7/);
  });
});
