/**
 * The diagnostic commands through the real CLI, checked with openssl: `read-certificate-data`
 * reports what the service will see (key type, the DER, the serial in decimal, here a
 * 20-byte one), and every signature `sign-string` prints verifies with `openssl dgst` for
 * each digest and output format.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cleanup, cliEnv, runCli, tempDir } from '../helpers/harness.js';
import { makeOpensslPki, openssl, writeLeafFormats, type LeafFormats, type OpensslPki } from '../helpers/openssl-pki.js';

const PASSWORD = 'diagnostics password';
let dir: string;
let pki: OpensslPki;
const formats: Record<string, LeafFormats> = {};

before(async () => {
  dir = tempDir('ras-diag-');
  pki = await makeOpensslPki(dir);
  for (const name of ['rsa-int', 'p256-root', 'p384-int']) formats[name] = await writeLeafFormats(pki, pki.leaves[name]!, PASSWORD);
});

after(() => {
  if (dir) cleanup(dir);
});

/** Like runCli, but stdout as bytes (sign-string --format bin). */
function runCliBytes(args: string[], stdin: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(stdin);
  });
}

function derOf(pemPath: string): Buffer {
  const pem = readFileSync(pemPath, 'utf8');
  const body = pem.split('-----BEGIN CERTIFICATE-----')[1]!.split('-----END CERTIFICATE-----')[0]!;
  return Buffer.from(body.replace(/\s+/g, ''), 'base64');
}

async function opensslSerialHex(certPath: string): Promise<string> {
  const out = (await openssl(['x509', '-in', certPath, '-noout', '-serial'])).toString('utf8').trim();
  const m = /^serial=([0-9A-F]+)$/.exec(out);
  assert.ok(m, out);
  return m[1]!;
}

describe('read-certificate-data', { concurrency: 3 }, () => {
  const cases: Array<[string, string, (f: LeafFormats) => string[], string]> = [
    ['RSA leaf, PEM with its chain (leaf first)', 'rsa-int', (f) => ['--certificate', f.certWithChain], 'RSA'],
    ['P-256 leaf, DER', 'p256-root', (f) => ['--certificate', f.certDer], 'EC'],
    ['P-384 leaf, combined certificate+chain+key PEM', 'p384-int', (f) => ['--certificate', f.combinedWithChain], 'EC'],
    ['P-384 leaf, PKCS#12 without a password', 'p384-int', (f) => ['--certificate', f.p12NoEncryption], 'EC'],
  ];
  for (const [name, leafName, args, keyType] of cases) {
    test(name, async () => {
      const leaf = pki.leaves[leafName]!;
      const r = await runCli(['read-certificate-data', ...args(formats[leafName]!)], { env: cliEnv() });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout.split('\n').length, 2, 'one JSON line');
      const out = JSON.parse(r.stdout) as { keyType: string; certificateData: string; serialNumber: string; supportedAlgorithms: string[] };
      assert.equal(out.keyType, keyType);
      assert.deepEqual(Buffer.from(out.certificateData, 'base64'), derOf(leaf.cert));
      const hex = await opensslSerialHex(leaf.cert);
      assert.equal(hex.length, 40, 'a 20-byte serial');
      assert.equal(out.serialNumber, BigInt(`0x${hex}`).toString(10));
      assert.match(out.serialNumber, /^[1-9][0-9]{40,48}$/);
      assert.deepEqual(
        out.supportedAlgorithms,
        keyType === 'RSA' ? ['SHA256withRSA', 'SHA384withRSA', 'SHA512withRSA'] : ['SHA256withECDSA', 'SHA384withECDSA', 'SHA512withECDSA'],
      );
    });
  }

  test('password-protected PKCS#12 (the error tells the user to pass --pkcs8-password, which read-certificate-data must then accept)', async () => {
    const leaf = pki.leaves['rsa-int']!;
    const r = await runCli(['read-certificate-data', '--certificate', formats['rsa-int']!.p12, '--pkcs8-password', PASSWORD], { env: cliEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { serialNumber: string }).serialNumber, BigInt(`0x${leaf.serialHex}`).toString(10));
  });
});

describe('sign-string', { concurrency: 3 }, () => {
  const DATA = 'rolesanywhere-sidecar sign-string test\nsecond line \u00e9\n';

  /** Every digest with every format for each key type would be 27 runs; each digest and each format runs for every key type. */
  const plan: Array<[string, 'SHA256' | 'SHA384' | 'SHA512', 'text' | 'json' | 'bin', (f: LeafFormats) => string[], string]> = [];
  const keyArgs: Record<string, (f: LeafFormats) => string[]> = {
    'rsa-int': (f) => ['--certificate', pki.leaves['rsa-int']!.cert, '--private-key', f.traditional],
    'p256-root': (f) => ['--certificate', pki.leaves['p256-root']!.cert, '--private-key', f.pkcs8Pbkdf2, '--pkcs8-password', PASSWORD],
    'p384-int': (f) => ['--certificate', f.p12, '--pkcs8-password', PASSWORD],
  };
  const digests = ['SHA256', 'SHA384', 'SHA512'] as const;
  const fmts = ['text', 'json', 'bin'] as const;
  Object.keys(keyArgs).forEach((leaf, k) => {
    digests.forEach((d, i) => plan.push([leaf, d, fmts[(i + k) % 3]!, keyArgs[leaf]!, `${leaf} ${d} ${fmts[(i + k) % 3]}`]));
  });

  test('a private key alone is enough to sign', async () => {
    const r = await runCliBytes(['sign-string', '--private-key', pki.leaves['p256-root']!.key], DATA);
    assert.equal(r.code, 0, r.stderr);
    // The helper's default, json: the hex signature as a JSON string, no newline.
    assert.match(r.stdout.toString('utf8'), /^"[0-9a-f]+"$/);
  });

  for (const [leafName, digest, format, args, name] of plan) {
    test(name, async () => {
      const leaf = pki.leaves[leafName]!;
      const r = await runCliBytes(['sign-string', ...args(formats[leafName]!), '--digest', digest, '--format', format], DATA);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const text = r.stdout.toString('utf8');
      let sig: Buffer;
      if (format === 'bin') sig = r.stdout;
      else if (format === 'text') {
        assert.match(text, /^[0-9a-f]+$/);
        sig = Buffer.from(text, 'hex');
      } else {
        const j = JSON.parse(text) as unknown;
        assert.equal(typeof j, 'string');
        assert.match(j as string, /^[0-9a-f]+$/);
        sig = Buffer.from(j as string, 'hex');
      }
      const work = tempDir('ras-sig-');
      try {
        const pub = join(work, 'pub.pem');
        const sigPath = join(work, 'sig.bin');
        const dataPath = join(work, 'data.txt');
        await openssl(['x509', '-in', leaf.cert, '-noout', '-pubkey', '-out', pub]);
        writeFileSync(sigPath, sig);
        writeFileSync(dataPath, DATA);
        const out = (await openssl(['dgst', `-${digest.toLowerCase()}`, '-verify', pub, '-signature', sigPath, dataPath])).toString('utf8');
        assert.match(out, /Verified OK/);
        // And not under another digest: the flag really selected the hash.
        const other = digest === 'SHA256' ? '-sha512' : '-sha256';
        await assert.rejects(openssl(['dgst', other, '-verify', pub, '-signature', sigPath, dataPath]), /failed/);
      } finally {
        cleanup(work);
      }
    });
  }
});
