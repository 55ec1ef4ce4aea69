/**
 * Keys inside a TPM 2.0, through the real CLI: the test starts its own swtpm, makes keys in
 * it (TSS2 PEM files from the tpm2 OpenSSL provider, with and without a password, and a
 * persistent handle from tpm2-tools), has the test CA issue their certificates, and gets
 * credentials from the emulator with each; the independent verifier accepts the TPM's
 * signatures; a wrong password, a missing password, a key from another TPM and a missing
 * handle are one line each.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, runCli, startTestEmulator, writePki, type PkiFiles } from '../helpers/harness.js';
import { assertCredentialProcessOutput, assertOneLineError } from '../helpers/cli-result.js';
import { defaultVerifierArgs, startDefaultVerifier } from '../helpers/independent-verifier.js';
import {
  createPersistentKey,
  createTpm2Pkcs11Key,
  createTss2Key,
  issueForPublicKey,
  issueForTpmKey,
  startSoftTpm,
  tpm2Pkcs11Library,
  type SoftTpm,
} from '../helpers/swtpm.js';

type Emu = Awaited<ReturnType<typeof startTestEmulator>>;
let pki: PkiFiles;
let tpm: SoftTpm;
let emu: Emu;
const PASSWORD = 'tpm-key-secret';
const HANDLE = '0x81000010';
const keys: Record<string, { key: string; cert: string }> = {};
const P11_TOKEN = 'tpm-token';
const P11_PIN = '5150-tpm-pin';
let p11: { env: Record<string, string> };

before(async () => {
  pki = await writePki();
  tpm = await startSoftTpm();
  for (const alg of ['rsa', 'p256', 'p384'] as const) {
    const key = createTss2Key(tpm, `tpm-${alg}`, alg);
    keys[alg] = { key, cert: issueForTpmKey(tpm, key, `tpm-${alg}`, pki.root) };
  }
  const pw = createTss2Key(tpm, 'tpm-pw', 'p256', PASSWORD);
  keys.pw = { key: pw, cert: issueForTpmKey(tpm, pw, 'tpm-pw', pki.root, PASSWORD) };
  createPersistentKey(tpm, HANDLE);
  keys.handle = { key: `handle:${HANDLE}`, cert: issueForTpmKey(tpm, `handle:${HANDLE}`, 'tpm-handle', pki.root) };
  const made = createTpm2Pkcs11Key(tpm, P11_TOKEN, 'tpm-p11-key', P11_PIN);
  p11 = made;
  keys.p11 = { key: `pkcs11:token=${P11_TOKEN};object=tpm-p11-key`, cert: issueForPublicKey(tpm, made.publicKeyPem, 'tpm-p11', pki.root) };
  emu = await startTestEmulator(pki);
});

after(async () => {
  await emu?.stop();
  await tpm?.stop();
  cleanup(pki?.dir ?? '', tpm?.dir ?? '');
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({ ...emu.env, ...tpm.env, ...extra });
}

describe('credential-process with TPM keys', () => {
  for (const name of ['rsa', 'p256', 'p384'] as const) {
    test(`TSS2 PEM ${name}`, async () => {
      const r = await runCli(['credential-process', '--no-cache', '--certificate', keys[name]!.cert, '--private-key', keys[name]!.key], { env: env() });
      assertCredentialProcessOutput(r, name);
    });
  }

  test('TSS2 PEM with a password from ROLESANYWHERE_TPM_KEY_PASSWORD, and from --tpm-key-password', async () => {
    const args = ['credential-process', '--no-cache', '--certificate', keys.pw!.cert, '--private-key', keys.pw!.key];
    assertCredentialProcessOutput(await runCli(args, { env: env({ ROLESANYWHERE_TPM_KEY_PASSWORD: PASSWORD }) }), 'env password');
    assertCredentialProcessOutput(await runCli([...args, '--tpm-key-password', PASSWORD], { env: env() }), 'flag password');
  });

  test('a persistent handle', async () => {
    const r = await runCli(['credential-process', '--no-cache', '--certificate', keys.handle!.cert, '--private-key', keys.handle!.key], { env: env() });
    assertCredentialProcessOutput(r, 'handle');
  });

  test('a TPM key reached through tpm2-pkcs11 as a PKCS#11 URI (--pkcs11-lib libtpm2_pkcs11.so)', async () => {
    const args = ['credential-process', '--no-cache', '--certificate', keys.p11!.cert, '--private-key', keys.p11!.key, '--pkcs11-lib', tpm2Pkcs11Library()];
    try {
      assertCredentialProcessOutput(await runCli(args, { env: env({ ...p11.env, ROLESANYWHERE_PKCS11_PIN: P11_PIN }) }), 'tpm2-pkcs11');
      const wrong = await runCli(args, { env: env({ ...p11.env, ROLESANYWHERE_PKCS11_PIN: 'not-the-pin' }) });
      // tpm2-pkcs11 answers a wrong PIN with CKR_GENERAL_ERROR (its unsealing of the token's
      // wrapping key fails), not CKR_PIN_INCORRECT; it and the TSS below it print their own
      // diagnostics to stderr from inside the process (TPM2_PKCS11_LOG_LEVEL, TSS2_LOG tune
      // them). The sidecar's own line is one, names the token and never the PIN.
      assert.notEqual(wrong.code, 0);
      assert.equal(wrong.stdout, '');
      const ours = wrong.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('rolesanywhere-sidecar'));
      assert.equal(ours.length, 1, wrong.stderr);
      assert.match(ours[0]!, /pkcs11:token=tpm-token .*CKR_GENERAL_ERROR.*\[PKCS11_FAILED\]/);
      assert.ok(!wrong.stderr.includes('not-the-pin'), 'the PIN is not echoed');
    } finally {
      // With no resource manager between them (a kernel TPM has /dev/tpmrm0), what the
      // module's sessions left loaded in swtpm would fill its slots for the tests after.
      for (const what of ['-t', '-l', '-s']) tpm.tools('tpm2_flushcontext', [what]);
    }
  });

  test('sign-string signs in the TPM', async () => {
    const r = await runCli(['sign-string', '--private-key', keys.p256!.key], { env: env(), stdin: 'abc' });
    assert.equal(r.code, 0, r.stderr);
    const { createVerify, X509Certificate } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const pub = new X509Certificate(readFileSync(keys.p256!.cert)).publicKey;
    assert.ok(
      createVerify('sha256')
        .update('abc')
        .verify({ key: pub, dsaEncoding: 'der' }, Buffer.from(JSON.parse(r.stdout) as string, 'hex')),
    );
  });

  test("errors: wrong password, no password, another key's certificate, missing handle, no TPM", async () => {
    const base = ['credential-process', '--no-cache', '--certificate', keys.pw!.cert, '--private-key', keys.pw!.key];
    assertOneLineError(await runCli([...base, '--tpm-key-password', 'wrong'], { env: env() }), /TPM refused the password of key/, 'wrong password', [PASSWORD]);
    assertOneLineError(await runCli(base, { env: env() }), /needs its password: pass --tpm-key-password/, 'no password', [PASSWORD]);
    assertOneLineError(
      await runCli(['credential-process', '--no-cache', '--certificate', keys.rsa!.cert, '--private-key', keys.p256!.key], { env: env() }),
      /does not belong to certificate CN=tpm-rsa/,
      'mismatch',
      [PASSWORD],
    );
    assertOneLineError(
      await runCli(['credential-process', '--no-cache', '--certificate', keys.handle!.cert, '--private-key', 'handle:0x81000099'], { env: env() }),
      /not a key this TPM can load/,
      'missing handle',
      [PASSWORD],
    );
    const copy = join(tpm.dir, 'copy.tss2.pem');
    copyFileSync(keys.p256!.key, copy);
    assertOneLineError(
      await runCli(['credential-process', '--no-cache', '--certificate', keys.p256!.cert, '--private-key', copy], {
        env: env({ TPM2OPENSSL_TCTI: 'swtpm:host=127.0.0.1,port=1' }),
      }),
      /TPM could not be reached/,
      'no TPM',
      [PASSWORD],
    );
    assertOneLineError(
      await runCli(['credential-process', '--certificate', 'x.pem', '--cert-selector', 'Subject=CN=a'], { env: env() }),
      /macOS Keychain or the Windows certificate store/,
      'cert-selector',
      [PASSWORD],
    );
  });
});

test("the independent verifier accepts the TPM's signatures", async () => {
  const verifier = await startDefaultVerifier(pki.rootPem);
  try {
    for (const name of ['rsa', 'p384', 'handle']) {
      const r = await runCli(
        ['credential-process', '--no-cache', ...defaultVerifierArgs(verifier), '--certificate', keys[name]!.cert, '--private-key', keys[name]!.key],
        { env: cliEnv(tpm.env) },
      );
      assertCredentialProcessOutput(r, name);
      assert.equal((await verifier.log()).at(-1)?.status, 201);
    }
  } finally {
    await verifier.stop();
  }
});
