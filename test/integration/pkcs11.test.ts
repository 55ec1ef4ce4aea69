/**
 * Keys on a PKCS#11 token, through the real CLI: a SoftHSM2 token of the test's own holds
 * RSA-2048, P-256 and P-384 keys and their certificates; credential-process and serve get
 * credentials from the emulator with each (certificate on the token, and certificate in a
 * file), the independent verifier accepts the token's signatures, and every failure a user
 * meets (wrong PIN, locked token, missing or ambiguous object, a library that will not load)
 * is one line on stderr, nothing on stdout.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, runCli, startTestEmulator, writePki, type PkiFiles } from '../helpers/harness.js';
import {
  assertServable,
  imdsCredentials,
  imdsToken,
  logLines,
  readyz,
  startServe,
  waitUntil,
  type HttpAnswer,
  type ServedCredentials,
} from '../helpers/serve-fixture.js';
import { assertCredentialProcessOutput, assertOneLineError } from '../helpers/cli-result.js';
import { defaultVerifierArgs, startDefaultVerifier, type RunningVerifier } from '../helpers/independent-verifier.js';
import { createSoftHsm, SOFTHSM_LIB, USER_PIN, type SoftHsm } from '../helpers/softhsm.js';

type Emu = Awaited<ReturnType<typeof startTestEmulator>>;
let pki: PkiFiles;
let hsm: SoftHsm;
let emu: Emu;
let pinFile: string;

const TOKEN = 'workload';
const LEAVES = [
  ['rsa', '01'],
  ['ec256', '02'],
  ['ec384', '03'],
] as const;

before(async () => {
  pki = await writePki();
  hsm = createSoftHsm([TOKEN, 'spare']);
  for (const [name, id] of LEAVES) {
    hsm.importKey(TOKEN, pki[name].issued.keyPem, `key-${name}`, id);
    hsm.importCertificate(TOKEN, pki[name].issued.certPem, `cert-${name}`, id);
  }
  pinFile = join(hsm.dir, 'pin');
  writeFileSync(pinFile, `${USER_PIN}\n`, { mode: 0o600 });
  emu = await startTestEmulator(pki);
});

after(async () => {
  await emu?.stop();
  cleanup(pki?.dir ?? '', hsm?.dir ?? '');
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({ ...emu.env, ...hsm.env, ROLESANYWHERE_PKCS11_LIB: SOFTHSM_LIB, ...extra });
}

/** RSA and P-384 leaves are under the intermediate, which the service needs in the chain. */
function chainFor(name: string): string[] {
  return name === 'ec256' ? [] : ['--intermediates', pki.intermediatePem];
}

describe('credential-process with keys on a SoftHSM2 token', () => {
  for (const [name, id] of LEAVES) {
    test(`${name}: certificate and key on the token (key found by the certificate's CKA_ID)`, async () => {
      const r = await runCli(
        ['credential-process', '--no-cache', '--certificate', `pkcs11:token=${TOKEN};object=cert-${name}?pin-source=${pinFile}`, ...chainFor(name)],
        { env: env() },
      );
      assertCredentialProcessOutput(r, name);
    });
    test(`${name}: certificate in a file, key on the token by id, PIN from ROLESANYWHERE_PKCS11_PIN`, async () => {
      const r = await runCli(
        ['credential-process', '--no-cache', '--certificate', pki[name].cert, '--private-key', `pkcs11:token=${TOKEN};id=%${id}`, ...chainFor(name)],
        {
          env: env({ ROLESANYWHERE_PKCS11_PIN: USER_PIN }),
        },
      );
      assertCredentialProcessOutput(r, name);
    });
  }

  test('the RSA intermediate comes from --intermediates beside a token certificate', async () => {
    const r = await runCli(
      [
        'credential-process',
        '--no-cache',
        '--certificate',
        `pkcs11:token=${TOKEN};object=cert-rsa;pin-value=${USER_PIN}`.replace(';pin-value', '?pin-value'),
        '--intermediates',
        pki.intermediatePem,
      ],
      {
        env: env(),
      },
    );
    assertCredentialProcessOutput(r, 'rsa with intermediates');
  });

  test('the cache keys on the certificate read from the token: a second call is served from it', async () => {
    const args = [
      'credential-process',
      '--cache-dir',
      join(hsm.dir, 'cache'),
      '--certificate',
      `pkcs11:token=${TOKEN};object=cert-ec256?pin-source=${pinFile}`,
    ];
    const a = await runCli(args, { env: env() });
    const b = await runCli(args, { env: env() });
    assertCredentialProcessOutput(a, 'first');
    assertCredentialProcessOutput(b, 'second');
    const id = (r: { stdout: string }): string => (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId;
    assert.equal(id(a), id(b));
  });

  test('read-certificate-data and sign-string take the same URIs', async () => {
    const rcd = await runCli(['read-certificate-data', '--certificate', `pkcs11:token=${TOKEN};object=cert-ec384`], { env: env() });
    assert.equal(rcd.code, 0, rcd.stderr);
    const info = JSON.parse(rcd.stdout) as { keyType: string; certificateData: string };
    assert.equal(info.keyType, 'EC');
    assert.equal(info.certificateData, pki.ec384.issued.cert.raw.toString('base64'));
    const ss = await runCli(['sign-string', '--private-key', `pkcs11:token=${TOKEN};object=key-ec384?pin-source=${pinFile}`, '--certificate', pki.ec384.cert], {
      env: env(),
      stdin: 'data to sign',
    });
    assert.equal(ss.code, 0, ss.stderr);
    const { createVerify } = await import('node:crypto');
    assert.ok(
      createVerify('sha256')
        .update('data to sign')
        .verify({ key: pki.ec384.issued.cert.publicKey, dsaEncoding: 'der' }, Buffer.from(JSON.parse(ss.stdout) as string, 'hex')),
    );
  });

  test('errors: wrong PIN, missing object, ambiguous object, missing token, bad library, no PIN', async () => {
    const wrong = await runCli(['credential-process', '--no-cache', '--certificate', `pkcs11:token=${TOKEN};object=cert-rsa?pin-value=000000`], { env: env() });
    assertOneLineError(wrong, /PIN for .* is wrong/, 'wrong PIN', [USER_PIN]);
    const missing = await runCli(['credential-process', '--no-cache', '--certificate', `pkcs11:token=${TOKEN};object=nope?pin-source=${pinFile}`], {
      env: env(),
    });
    assertOneLineError(missing, /no certificate matches .*object=nope.*certificates there: .*cert-rsa/, 'missing object', [USER_PIN]);
    const ambiguous = await runCli(['credential-process', '--no-cache', '--certificate', `pkcs11:token=${TOKEN}?pin-source=${pinFile}`], { env: env() });
    assertOneLineError(ambiguous, /3 certificates match pkcs11:token=workload.*add object= or id= to the URI/, 'ambiguous object', [USER_PIN]);
    for (const o of ['object=cert-rsa;id=%01', 'object=cert-ec256;id=%02', 'object=cert-ec384;id=%03'])
      assert.ok(ambiguous.stderr.includes(o), `the ambiguous objects are named: ${o}`);
    const noToken = await runCli(['credential-process', '--no-cache', '--certificate', `pkcs11:token=absent;object=cert-rsa?pin-source=${pinFile}`], {
      env: env(),
    });
    assertOneLineError(noToken, /no token matches pkcs11:token=absent .*tokens present: .*check token= in the URI/, 'missing token', [USER_PIN]);
    assert.ok(noToken.stderr.includes('"workload"') && noToken.stderr.includes('"spare"'), `the tokens present are named: ${noToken.stderr}`);
    const badLib = await runCli(
      ['credential-process', '--no-cache', '--pkcs11-lib', '/nonexistent/libnothing.so', '--certificate', `pkcs11:token=${TOKEN};object=cert-rsa`],
      { env: env() },
    );
    assertOneLineError(badLib, /PKCS#11 library \/nonexistent\/libnothing\.so could not be loaded.*--pkcs11-lib/, 'bad library', [USER_PIN]);
    const noPin = await runCli(['credential-process', '--no-cache', '--certificate', `pkcs11:token=${TOKEN};object=cert-rsa`], { env: env() });
    assertOneLineError(noPin, /needs its user PIN: add pin-source=/, 'no PIN without a terminal', [USER_PIN]);
    const badUri = await runCli(['credential-process', '--no-cache', '--certificate', 'pkcs11:token=a;bogus=1'], { env: env() });
    assertOneLineError(badUri, /not a valid PKCS#11 URI.*unknown path attribute "bogus"/, 'bad URI', [USER_PIN]);
  });
});

describe('the independent verifier accepts signatures made by the token', () => {
  let verifier: RunningVerifier;
  before(async () => {
    verifier = await startDefaultVerifier(pki.rootPem);
  });
  after(async () => verifier?.stop());

  for (const [name] of LEAVES) {
    test(name, async () => {
      const r = await runCli(
        [
          'credential-process',
          '--no-cache',
          ...defaultVerifierArgs(verifier),
          '--certificate',
          `pkcs11:token=${TOKEN};object=cert-${name}?pin-source=${pinFile}`,
          ...(name === 'ec256' ? [] : ['--intermediates', pki.intermediatePem]),
        ],
        { env: cliEnv({ ...hsm.env, ROLESANYWHERE_PKCS11_LIB: SOFTHSM_LIB }) },
      );
      assertCredentialProcessOutput(r, name);
      const log = await verifier.log();
      assert.equal(log.at(-1)?.status, 201);
    });
  }
});

describe('serve with a key on the token', () => {
  for (const [name, id] of LEAVES) {
    for (const certOnToken of [true, false]) {
      test(`${name}: serve answers IMDS with credentials, certificate ${certOnToken ? 'on the token' : 'in a file'}`, async (t) => {
        const identity = certOnToken
          ? ['--certificate', `pkcs11:token=${TOKEN};object=cert-${name}?pin-source=${pinFile}`]
          : ['--certificate', pki[name].cert, '--private-key', `pkcs11:token=${TOKEN};id=%${id}?pin-source=${pinFile}`];
        const serve = await startServe([...identity, ...chainFor(name)], { env: { ...emu.env, ...hsm.env, ROLESANYWHERE_PKCS11_LIB: SOFTHSM_LIB } });
        t.after(() => serve.cli.stop());
        await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
        const c = assertServable(await imdsCredentials(serve.imds!, await imdsToken(serve.imds!)), name);
        assert.match(c.AccessKeyId, /^ASIA/);
      });
    }
  }

  test('serves credentials, keeps them while the token is gone, and signs again once it is back', async (t) => {
    // Credentials of 20 s, refreshed with 5 s left: several CreateSessions while the test runs.
    const shortEmu = await startTestEmulator(pki, { credentialLifetimeSeconds: 20 });
    t.after(() => shortEmu.stop());
    const serve = await startServe(
      [
        '--certificate',
        `pkcs11:token=${TOKEN};object=cert-ec256?pin-source=${pinFile}`,
        '--min-remaining',
        '5',
        '--rotation-jitter',
        '0',
        '--log-format',
        'json',
      ],
      {
        env: { ...shortEmu.env, ...hsm.env, ROLESANYWHERE_PKCS11_LIB: SOFTHSM_LIB },
      },
    );
    t.after(() => serve.cli.stop());
    await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
    const first = assertServable(await imdsCredentials(serve.imds!, await imdsToken(serve.imds!)), 'first credentials');

    // The token goes away (SoftHSM's store is moved off): refreshes fail, the credentials in hand stay served.
    renameSync(hsm.tokenDir, `${hsm.tokenDir}.away`);
    try {
      const okBefore = shortEmu.stats().createSession.ok;
      await waitUntil(() => /"level":"(warn|error)"[^\n]*(PKCS11|token)/i.test(serve.cli.stderr()), 'a failed refresh while the token is gone', 30_000);
      assert.equal(shortEmu.stats().createSession.ok, okBefore, 'no CreateSession without the token');
      const during = assertServable(await imdsCredentials(serve.imds!, await imdsToken(serve.imds!)), 'credentials while the token is gone');
      assert.equal(during.AccessKeyId, first.AccessKeyId, 'the last good credentials are served');
    } finally {
      renameSync(`${hsm.tokenDir}.away`, hsm.tokenDir);
    }
    // Back: the sidecar re-opens the token itself (no restart) and gets new credentials.
    await waitUntil(
      async () => assertServableOrUndefined(await imdsCredentials(serve.imds!, await imdsToken(serve.imds!)))?.AccessKeyId !== first.AccessKeyId,
      'new credentials once the token is back',
      40_000,
    );
    assert.equal(serve.cli.proc.exitCode, null, 'serve kept running');
    const leaks = serve.cli
      .stderr()
      .split('\n')
      .filter((l) => l.includes(USER_PIN));
    assert.deepEqual(leaks, [], 'the PIN is never logged');
  });
});

describe('certificate rotation on the token', () => {
  test('serve follows a certificate (and key) replaced on the token, without a restart', async (t) => {
    const first = await pki.leaf('rot-first', 'ec-p256', { underRoot: true });
    const second = await pki.leaf('rot-second', 'ec-p256', { underRoot: true });
    hsm.importKey(TOKEN, first.issued.keyPem, 'rot-key', '09');
    hsm.importCertificate(TOKEN, first.issued.certPem, 'rot-cert', '09');
    const serve = await startServe(
      [
        '--certificate',
        `pkcs11:token=${TOKEN};object=rot-cert?pin-source=${pinFile}`,
        '--identity-poll-interval',
        '1',
        '--rotation-jitter',
        '0',
        '--log-format',
        'json',
      ],
      {
        env: { ...emu.env, ...hsm.env, ROLESANYWHERE_PKCS11_LIB: SOFTHSM_LIB },
      },
    );
    t.after(() => serve.cli.stop());
    await waitUntil(async () => (await readyz(serve.ops!)).status === 200, 'first credentials');
    // The administrator replaces both on the token, keeping the labels and the id.
    hsm.deleteObject(TOKEN, 'cert', 'rot-cert');
    hsm.deleteObject(TOKEN, 'privkey', 'rot-key');
    hsm.importKey(TOKEN, second.issued.keyPem, 'rot-key', '09');
    hsm.importCertificate(TOKEN, second.issued.certPem, 'rot-cert', '09');
    const serial = BigInt(`0x${second.issued.cert.serialNumber}`).toString(10);
    await waitUntil(
      () => logLines(serve.cli.stderr()).some((l) => l.msg === 'certificate reloaded; refreshing credentials with the new identity' && l.serial === serial),
      'the reload to the new certificate',
      30_000,
    );
    const okAtReload = emu.stats().createSession.ok;
    await waitUntil(
      () => emu.stats().createSession.ok > okAtReload || logLines(serve.cli.stderr()).filter((l) => l.msg === 'credentials issued').length >= 2,
      'a CreateSession signed by the new key',
      30_000,
    );
    assertServable(await imdsCredentials(serve.imds!, await imdsToken(serve.imds!)), 'credentials after the rotation');
  });
});

function assertServableOrUndefined(a: HttpAnswer): ServedCredentials | undefined {
  try {
    return assertServable(a, 'credentials');
  } catch {
    return undefined;
  }
}
