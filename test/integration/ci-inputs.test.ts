/**
 * Certificate and key from CI variables (the official helper's #187 / PR #93): environment
 * variables holding PEM text, single-line PEM, base64 of PEM, base64 DER, base64 PKCS#12
 * with the password in another variable, and a combined PEM on stdin. Each is run through
 * `credential-process --no-cache` against the emulator, which records which certificate
 * signed; the error cases must name the variable and never echo its content.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, cliEnv, runCli, startTestEmulator, tempDir, writePki, type LeafFiles, type PkiFiles } from '../helpers/harness.js';
import { unavailable } from '../helpers/tools.js';

type Emulator = Awaited<ReturnType<typeof startTestEmulator>>;

let pki: PkiFiles;
let emu: Emulator;
let work: string;

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki);
  work = tempDir('ras-ci-inputs-');
});

after(async () => {
  await emu?.stop();
  cleanup(work, pki.dir);
});

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const pem = (path: string) => readFileSync(path, 'utf8');
const fingerprint = (l: LeafFiles) => createHash('sha256').update(l.issued.cert.raw).digest('hex');

interface ProcessOutput {
  Version: number;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

/** credential-process with only the given flags/variables (plus the emulator's ARNs and endpoint). */
function credentialProcess(flags: readonly string[], vars: Record<string, string>, stdin?: string | Buffer) {
  return runCli(['credential-process', '--no-cache', ...flags], {
    env: cliEnv({ ...emu.env, HOME: work, ...vars }),
    ...(stdin !== undefined ? { stdin } : {}),
  });
}

/** Success: credential_process JSON whose session the emulator issued for exactly this certificate. */
async function assertSignedBy(r: Awaited<ReturnType<typeof credentialProcess>>, leaf: LeafFiles): Promise<void> {
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ProcessOutput;
  assert.equal(out.Version, 1);
  assert.match(out.Expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(out.SecretAccessKey.length > 0 && out.SessionToken.length > 0);
  const rec = emu.issued().find((x) => x.accessKeyId === out.AccessKeyId);
  assert.ok(rec !== undefined, 'the emulator did not issue these credentials');
  assert.equal(rec.fingerprint, fingerprint(leaf), 'CreateSession was signed with another certificate');
}

test('PEM text in the variables (multi-line, as a masked-off or file-less CI variable holds it)', async () => {
  const r = await credentialProcess(['--certificate-env', 'WORKLOAD_CERT', '--private-key-env', 'WORKLOAD_KEY'], {
    WORKLOAD_CERT: pem(pki.ec256.cert),
    WORKLOAD_KEY: pem(pki.ec256.key),
  });
  await assertSignedBy(r, pki.ec256);
});

test('single-line PEM with literal \\n sequences', async () => {
  const oneLine = (s: string) => s.trimEnd().replace(/\n/g, '\\n');
  const r = await credentialProcess(['--certificate-env', 'C', '--private-key-env', 'K'], {
    C: oneLine(pem(pki.ec256.cert)),
    K: oneLine(pem(pki.ec256.key)),
  });
  await assertSignedBy(r, pki.ec256);
});

test('base64 of PEM (GitLab masked variables), with the chain from --intermediates-env', async () => {
  const r = await credentialProcess(['--certificate-env', 'CERT_B64', '--private-key-env', 'KEY_B64', '--intermediates-env', 'CHAIN_B64'], {
    CERT_B64: b64(pem(pki.rsa.cert)),
    KEY_B64: b64(pem(pki.rsa.key)),
    CHAIN_B64: b64(pem(pki.intermediatePem)),
  });
  await assertSignedBy(r, pki.rsa);
});

test('base64 of PEM wrapped at 76 columns (base64 without -w0) is accepted', async () => {
  const wrap = (s: string) => s.replace(/(.{76})/g, '$1\n');
  const r = await credentialProcess(['--certificate-env', 'C', '--private-key-env', 'K'], {
    C: wrap(b64(pem(pki.ec384.cert))),
    K: wrap(b64(pem(pki.ec384.key))),
    ROLESANYWHERE_INTERMEDIATES: pki.intermediatePem,
  });
  await assertSignedBy(r, pki.ec384);
});

test('base64 DER certificate and base64 DER PKCS#8 key', async () => {
  const certDer = new X509Certificate(pem(pki.ec256.cert)).raw;
  const keyDer = createPrivateKey(pem(pki.ec256.key)).export({ type: 'pkcs8', format: 'der' });
  const r = await credentialProcess(['--certificate-env', 'C', '--private-key-env', 'K'], { C: b64(certDer), K: b64(keyDer) });
  await assertSignedBy(r, pki.ec256);
});

test('the variable names themselves from the environment (ROLESANYWHERE_CERTIFICATE_ENV / _PRIVATE_KEY_ENV): no flags at all', async () => {
  const r = await credentialProcess([], {
    ROLESANYWHERE_CERTIFICATE_ENV: 'MY_CERT',
    ROLESANYWHERE_PRIVATE_KEY_ENV: 'MY_KEY',
    MY_CERT: b64(pem(pki.ec256.cert)),
    MY_KEY: b64(pem(pki.ec256.key)),
  });
  await assertSignedBy(r, pki.ec256);
});

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('PKCS#12 (OpenSSL 3 default and -legacy) as base64 in a variable, password from ROLESANYWHERE_PKCS8_PASSWORD', async (t) => {
  if (!haveOpenssl()) {
    unavailable(t, 'openssl is not installed here; CI has it');
    return;
  }
  const password = 'ci-p12-password';
  for (const legacy of [false, true]) {
    const out = join(work, `bundle${legacy ? '-legacy' : ''}.p12`);
    execFileSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-in',
        pki.rsa.cert,
        '-inkey',
        pki.rsa.key,
        '-certfile',
        pki.intermediatePem,
        '-out',
        out,
        '-passout',
        'env:P12_PASS',
        ...(legacy ? ['-legacy'] : []),
      ],
      { env: { ...process.env, P12_PASS: password }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const bundle = b64(readFileSync(out));
    const r = await credentialProcess(['--certificate-env', 'P12_B64'], { P12_B64: bundle, ROLESANYWHERE_PKCS8_PASSWORD: password });
    await assertSignedBy(r, pki.rsa);

    const wrong = await credentialProcess(['--certificate-env', 'P12_B64'], { P12_B64: bundle, ROLESANYWHERE_PKCS8_PASSWORD: 'not-the-password' });
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /env P12_B64.*\[KEY_PASSWORD_WRONG\]$/m);
    assert.ok(!wrong.stderr.includes('not-the-password'), 'the password was echoed');
    const none = await credentialProcess(['--certificate-env', 'P12_B64'], { P12_B64: bundle });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /\[KEY_PASSWORD_REQUIRED\]$/m);
  }
});

test('"-" reads a combined certificate + key PEM from standard input', async () => {
  const r = await credentialProcess(['--certificate', '-'], {}, pem(pki.ec256.cert) + pem(pki.ec256.key));
  await assertSignedBy(r, pki.ec256);
  // Leaf, its intermediate and the key in one stream: the chain comes along.
  const chained = await credentialProcess(['--certificate', '-'], {}, pem(pki.rsa.key) + pem(pki.rsa.cert) + pem(pki.intermediatePem));
  await assertSignedBy(chained, pki.rsa);
  // The key on stdin, the certificate from a variable.
  const keyOnly = await credentialProcess(['--certificate-env', 'C', '--private-key', '-'], { C: pem(pki.ec256.cert) }, pem(pki.ec256.key));
  await assertSignedBy(keyOnly, pki.ec256);
});

test('errors name the variable and the flag, never its content', async () => {
  const secretish = 'TOPSECRETVALUE';
  const cases: Array<{ name: string; flags: string[]; vars: Record<string, string>; code: number; re: RegExp; stdin?: string }> = [
    {
      name: 'unset certificate variable',
      flags: ['--certificate-env', 'NOT_SET_CERT', '--private-key-env', 'K'],
      vars: { K: pem(pki.ec256.key) },
      code: 2,
      re: /^rolesanywhere-sidecar: environment variable NOT_SET_CERT is not set: .*\(--certificate-env\) \[CONFIG_INVALID\]$/m,
    },
    {
      name: 'empty key variable',
      flags: ['--certificate-env', 'C', '--private-key-env', 'EMPTY_KEY'],
      vars: { C: pem(pki.ec256.cert), EMPTY_KEY: '' },
      code: 2,
      re: /^rolesanywhere-sidecar: environment variable EMPTY_KEY is empty: .*\(--private-key-env\) \[CONFIG_INVALID\]$/m,
    },
    {
      name: 'whitespace-only key variable',
      flags: ['--certificate-env', 'C', '--private-key-env', 'BLANK_KEY'],
      vars: { C: pem(pki.ec256.cert), BLANK_KEY: ' \n\t ' },
      code: 2,
      re: /environment variable BLANK_KEY is empty: .*\[CONFIG_INVALID\]$/m,
    },
    {
      name: 'garbage that is neither PEM nor base64',
      flags: ['--certificate-env', 'GARBAGE', '--private-key-env', 'K'],
      vars: { GARBAGE: `${secretish} !!! not base64 ***`, K: pem(pki.ec256.key) },
      code: 3,
      re: /^rolesanywhere-sidecar: env GARBAGE holds neither PEM text nor base64: .*\(--certificate-env\) \[PEM_INVALID\]$/m,
    },
    {
      name: 'valid base64 of something that is not a certificate',
      flags: ['--certificate-env', 'NOT_A_CERT', '--private-key-env', 'K'],
      vars: { NOT_A_CERT: b64(`${secretish} hello, this is not DER`), K: pem(pki.ec256.key) },
      code: 3,
      re: /env NOT_A_CERT.*\[[A-Z0-9_]+_INVALID\]$/m,
    },
    {
      name: 'base64 of the wrong key',
      flags: ['--certificate-env', 'C', '--private-key-env', 'OTHER_KEY'],
      vars: { C: pem(pki.ec256.cert), OTHER_KEY: b64(pem(pki.ec384.key)) },
      code: 3,
      re: /env OTHER_KEY.*env C.*\[KEY_CERT_MISMATCH\]$/m,
    },
    {
      name: 'both --certificate and --certificate-env',
      flags: ['--certificate', pki.ec256.cert, '--certificate-env', 'C', '--private-key', pki.ec256.key],
      vars: { C: pem(pki.ec256.cert) },
      code: 2,
      re: /only one of --certificate and --certificate-env can be given \[CONFIG_INVALID\]$/m,
    },
    {
      name: 'stdin for both certificate and key',
      flags: ['--certificate', '-', '--private-key', '-'],
      vars: {},
      stdin: pem(pki.ec256.cert) + pem(pki.ec256.key),
      code: 2,
      re: /only one of --certificate and --private-key can read standard input.*\[CONFIG_INVALID\]$/m,
    },
    {
      name: 'empty stdin',
      flags: ['--certificate', '-'],
      vars: {},
      stdin: '',
      code: 3,
      re: /stdin was empty: .*\[FILE_UNREADABLE\]$/m,
    },
  ];
  const before = emu.stats().createSession.total;
  for (const c of cases) {
    const r = await credentialProcess(c.flags, c.vars, c.stdin);
    assert.equal(r.code, c.code, `${c.name}: ${r.stderr}`);
    assert.match(r.stderr, c.re, c.name);
    assert.equal(r.stdout, '', `${c.name}: nothing on stdout`);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('rolesanywhere-sidecar: ')).length,
      1,
      `${c.name}: one error line`,
    );
    assert.ok(!r.stderr.includes(secretish), `${c.name}: the variable's content was echoed`);
    assert.ok(!r.stderr.includes('PRIVATE KEY-----'), `${c.name}: key material in the message`);
  }
  assert.equal(emu.stats().createSession.total, before, 'no CreateSession for an input error');
});
