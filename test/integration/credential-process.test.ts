/**
 * `credential-process` end to end: the real CLI process, over HTTPS with a custom CA, against
 * the INDEPENDENT verifier (test/independent-verifier/verifier.py: Python + openssl CLI,
 * written from the spec) for every key and certificate format and every key type, with and
 * without an intermediate; the same inputs against the project's emulator; the printed JSON
 * fed to real credential_process consumers (botocore under two Pythons, the JS v3
 * fromProcess provider) that then call STS; and the on-disk cache.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  defaultEmulatorConfig,
  DEFAULT_PROFILE_ARN,
  DEFAULT_ROLE_ARN,
  DEFAULT_TRUST_ANCHOR_ARN,
  startEmulator,
  type RunningEmulator,
} from '../../src/emulator/index.js';
import { CLI, cleanup, cliEnv, runCli, tempDir, type CliResult } from '../helpers/harness.js';
import { startDefaultVerifier, type RunningVerifier } from '../helpers/independent-verifier.js';
import { unavailable } from '../helpers/tools.js';
import { makeOpensslPki, makeTlsServer, writeLeafFormats, type LeafFormats, type OpensslLeaf, type OpensslPki, type TlsFiles } from '../helpers/openssl-pki.js';

const PASSWORD = 'correct horse battery staple';
const ARN_ARGS = ['--trust-anchor-arn', DEFAULT_TRUST_ANCHOR_ARN, '--profile-arn', DEFAULT_PROFILE_ARN, '--role-arn', DEFAULT_ROLE_ARN];
/** The credential_process contract: exactly these keys, in this order, Expiration to the second with Z. */
const OUTPUT =
  /^\{"Version":1,"AccessKeyId":"(ASIA[A-Z0-9]{16})","SecretAccessKey":"[A-Za-z0-9+/]{40}","SessionToken":"[A-Za-z0-9+/=]+","Expiration":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"\}\n$/;

let dir: string;
let pki: OpensslPki;
let tls: TlsFiles;
let formats: Record<string, LeafFormats>;
let verifier: RunningVerifier;
let emulator: RunningEmulator;

before(async () => {
  dir = tempDir('ras-cp-');
  pki = await makeOpensslPki(dir);
  tls = await makeTlsServer(dir);
  formats = {};
  for (const leaf of Object.values(pki.leaves)) formats[leaf.name] = await writeLeafFormats(pki, leaf, PASSWORD);
  writeFileSync(join(dir, 'password.txt'), `${PASSWORD}\n`, { mode: 0o600 });
  verifier = await startDefaultVerifier(pki.rootPem, { tls: { certPath: tls.certPath, keyPath: tls.keyPath } });
  emulator = await startEmulator({
    config: defaultEmulatorConfig({ roots: [new X509Certificate(readFileSync(pki.rootPem))] }),
    tls: { certPem: readFileSync(tls.certPath, 'utf8'), keyPem: readFileSync(tls.keyPath, 'utf8') },
  });
});

after(async () => {
  await verifier?.stop();
  await emulator?.stop();
  if (dir) cleanup(dir);
});

function assertCredentialOutput(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  assert.equal(r.stderr, '', `${what}: nothing on stderr on success`);
  const m = OUTPUT.exec(r.stdout);
  assert.ok(m, `${what}: stdout is not one credential_process JSON object: ${JSON.stringify(r.stdout.slice(0, 300))}`);
  assert.deepEqual(Object.keys(JSON.parse(r.stdout) as object), ['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
  return m[1]!;
}

interface Input {
  readonly args: string[];
  readonly env?: Record<string, string>;
  readonly stdin?: string | Buffer;
}

interface Case {
  readonly name: string;
  readonly leaf: string;
  readonly input: (f: LeafFormats, leaf: OpensslLeaf) => Input;
  /** Also run against the emulator (the representative subset). */
  readonly emulator?: boolean;
}

const chainArgs = (leaf: OpensslLeaf): string[] => (leaf.underIntermediate ? ['--intermediates', pki.intermediatePem] : []);

type Pw = 'env' | 'file' | 'flag';

/** The password given the three ways a user can, by name. */
function password(how: Pw): Input {
  if (how === 'env') return { args: [], env: { ROLESANYWHERE_PKCS8_PASSWORD: PASSWORD } };
  if (how === 'file') return { args: ['--pkcs8-password-file', join(dir, 'password.txt')] };
  return { args: ['--pkcs8-password', PASSWORD] };
}

function withPassword(args: string[], how: Pw): Input {
  const p = password(how);
  return { args: [...args, ...p.args], ...(p.env ? { env: p.env } : {}) };
}

/**
 * Formats whose decoding depends on the key type (PKCS#8, PKCS#1/SEC1, encrypted PKCS#8,
 * PKCS#12, combined PEM, the chain in the certificate file) run for every key type; how the
 * password is given rotates over them; where the bytes come from (DER file, env, stdin)
 * runs once. Each key type runs with and without an intermediate.
 */
function casesFor(): Case[] {
  const out: Case[] = [];
  const rotate: Pw[] = ['env', 'flag', 'file'];
  const pwName = (how: Pw): string => (how === 'env' ? 'ROLESANYWHERE_PKCS8_PASSWORD' : password(how).args[0]!);
  (['rsa', 'p256', 'p384'] as const).forEach((kind, k) => {
    const a = `${kind}-int`;
    const b = `${kind}-root`;
    const trad = kind === 'rsa' ? 'PKCS#1 (openssl rsa -traditional)' : 'SEC1 (openssl ec)';
    const p12Pw = rotate[k]!;
    const pbkdf2Pw = rotate[(k + 1) % 3]!;
    const scryptPw = rotate[(k + 2) % 3]!;
    const legacyPw = rotate[k]!;
    out.push(
      {
        name: `${b} PKCS#8 (no intermediate)`,
        leaf: b,
        emulator: kind === 'p256',
        input: (f, l) => ({ args: ['--certificate', l.cert, '--private-key', f.pkcs8] }),
      },
      {
        name: `${a} PKCS#8 + --intermediates`,
        leaf: a,
        emulator: true,
        input: (f, l) => ({ args: ['--certificate', l.cert, '--private-key', f.pkcs8, ...chainArgs(l)] }),
      },
      {
        name: `${a} intermediate as a second PEM block of the certificate file`,
        leaf: a,
        input: (f) => ({ args: ['--certificate', f.certWithChain, '--private-key', f.pkcs8] }),
      },
      {
        name: `${a} ${trad}`,
        leaf: a,
        emulator: kind === 'rsa',
        input: (f, l) => ({ args: ['--certificate', l.cert, '--private-key', f.traditional, ...chainArgs(l)] }),
      },
      {
        name: `${a} PKCS#12 (OpenSSL 3 default), password via ${pwName(p12Pw)}`,
        leaf: a,
        emulator: kind === 'p384',
        input: (f) => withPassword(['--certificate', f.p12], p12Pw),
      },
      {
        name: `${a} encrypted PKCS#8 PBKDF2, password via ${pwName(pbkdf2Pw)}`,
        leaf: a,
        input: (f, l) => withPassword(['--certificate', l.cert, '--private-key', f.pkcs8Pbkdf2, ...chainArgs(l)], pbkdf2Pw),
      },
      {
        name: `${b} encrypted PKCS#8 scrypt, password via ${pwName(scryptPw)}`,
        leaf: b,
        emulator: kind === 'p256',
        input: (f, l) => withPassword(['--certificate', l.cert, '--private-key', f.pkcs8Scrypt], scryptPw),
      },
      { name: `${b} combined certificate+key PEM`, leaf: b, input: (f) => ({ args: ['--certificate', f.combined] }) },
      {
        name: `${b} PKCS#12 -legacy, password via ${pwName(legacyPw)}`,
        leaf: b,
        emulator: kind === 'rsa',
        input: (f) => withPassword(['--certificate', f.p12Legacy], legacyPw),
      },
      kind === 'p256'
        ? { name: `${a} PKCS#12 with an empty password, none given`, leaf: a, input: (f) => ({ args: ['--certificate', f.p12EmptyPassword] }) }
        : { name: `${a} PKCS#12 without encryption or MAC, no password given`, leaf: a, input: (f) => ({ args: ['--certificate', f.p12NoEncryption] }) },
    );
  });
  // Where the bytes come from does not depend on the key type: once each.
  out.push(
    {
      name: 'rsa-int DER certificate + --intermediates',
      leaf: 'rsa-int',
      input: (f, l) => ({ args: ['--certificate', f.certDer, '--private-key', f.pkcs8, ...chainArgs(l)] }),
    },
    { name: 'p384-int combined certificate+chain+key PEM', leaf: 'p384-int', input: (f) => ({ args: ['--certificate', f.combinedWithChain] }) },
    {
      name: 'p256-int --certificate-env/--private-key-env/--intermediates-env holding PEM text',
      leaf: 'p256-int',
      emulator: true,
      input: (f, l) => ({
        args: ['--certificate-env', 'MY_CERT', '--private-key-env', 'MY_KEY', '--intermediates-env', 'MY_CHAIN'],
        env: { MY_CERT: readFileSync(l.cert, 'utf8'), MY_KEY: readFileSync(f.pkcs8, 'utf8'), MY_CHAIN: readFileSync(pki.intermediatePem, 'utf8') },
      }),
    },
    {
      name: 'rsa-root --certificate-env (base64 of DER) and --private-key-env (base64 of PEM)',
      leaf: 'rsa-root',
      input: (f) => ({
        args: ['--certificate-env', 'MY_CERT', '--private-key-env', 'MY_KEY'],
        env: { MY_CERT: readFileSync(f.certDer).toString('base64'), MY_KEY: readFileSync(f.pkcs8).toString('base64') },
      }),
    },
    {
      name: 'p384-int --certificate-env holding base64 of a PKCS#12 file',
      leaf: 'p384-int',
      input: (f) => ({
        args: ['--certificate-env', 'MY_P12'],
        env: { MY_P12: readFileSync(f.p12).toString('base64'), ROLESANYWHERE_PKCS8_PASSWORD: PASSWORD },
      }),
    },
    {
      name: 'p384-int --certificate - (combined PEM with chain on stdin)',
      leaf: 'p384-int',
      emulator: true,
      input: (f) => ({ args: ['--certificate', '-'], stdin: readFileSync(f.combinedWithChain) }),
    },
    {
      name: 'rsa-int --private-key - (PKCS#1 key on stdin)',
      leaf: 'rsa-int',
      input: (f, l) => ({ args: ['--certificate', l.cert, '--private-key', '-', ...chainArgs(l)], stdin: readFileSync(f.traditional) }),
    },
  );
  return out;
}

const CASES = casesFor();

/** Half the runs name the CA with --ca-bundle, half with AWS_CA_BUNDLE. */
function invocation(c: Case, endpoint: string, i: number): { args: string[]; env: Record<string, string>; stdin?: string | Buffer } {
  const leaf = pki.leaves[c.leaf]!;
  const inp = c.input(formats[c.leaf]!, leaf);
  const viaFlag = i % 2 === 0;
  return {
    args: ['credential-process', ...inp.args, ...ARN_ARGS, '--endpoint', endpoint, '--no-cache', ...(viaFlag ? ['--ca-bundle', tls.caPath] : [])],
    env: cliEnv({ ...(inp.env ?? {}), ...(viaFlag ? {} : { AWS_CA_BUNDLE: tls.caPath }) }),
    ...(inp.stdin !== undefined ? { stdin: inp.stdin } : {}),
  };
}

describe('credential-process against the independent verifier (HTTPS, custom CA)', { concurrency: 3 }, () => {
  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const inv = invocation(c, verifier.endpoint, i);
      const r = await runCli(inv.args, { env: inv.env, ...(inv.stdin !== undefined ? { stdin: inv.stdin } : {}) });
      assertCredentialOutput(r, c.name);
    });
  });
});

test('the verifier saw every request signed with the right algorithm, serial and chain, and accepted all of them', async () => {
  const log = await verifier.log(readFileSync(tls.caPath));
  assert.equal(log.length, CASES.length, `one CreateSession per run; rejections: ${JSON.stringify(log.filter((e) => e.status !== 201))}`);
  const bySerial = new Map(Object.values(pki.leaves).map((l) => [BigInt(`0x${l.serialHex}`).toString(10), l]));
  for (const e of log) {
    assert.equal(e.status, 201, JSON.stringify(e));
    const leaf = bySerial.get(e.serial!);
    assert.ok(leaf, `serial ${e.serial} is one of the leaves`);
    assert.equal(e.algorithm, leaf.kind === 'rsa' ? 'AWS4-X509-RSA-SHA256' : 'AWS4-X509-ECDSA-SHA256');
    assert.equal(e.chainLength, leaf.underIntermediate ? 1 : 0, `${leaf.name}: X-Amz-X509-Chain sent exactly when there is an intermediate`);
    assert.deepEqual(e.signedHeaders, ['content-type', 'host', 'x-amz-date', 'x-amz-x509', ...(leaf.underIntermediate ? ['x-amz-x509-chain'] : [])]);
    assert.equal(e.durationSeconds, 3600);
  }
  // Every key type with and without an intermediate really went through.
  assert.equal(new Set(log.map((e) => e.serial)).size, Object.keys(pki.leaves).length);
});

describe('the same inputs against the project emulator', { concurrency: 3 }, () => {
  CASES.forEach((c, i) => {
    if (c.emulator !== true) return;
    test(c.name, async () => {
      const before = emulator.issued().length;
      const inv = invocation(c, emulator.url.href.replace(/\/$/, ''), i + 1);
      const r = await runCli(inv.args, { env: inv.env, ...(inv.stdin !== undefined ? { stdin: inv.stdin } : {}) });
      const key = assertCredentialOutput(r, c.name);
      const rec = emulator.issued().find((x) => x.accessKeyId === key);
      assert.ok(rec, 'the printed key was issued by the emulator');
      assert.equal(rec.serialDecimal, BigInt(`0x${pki.leaves[c.leaf]!.serialHex}`).toString(10));
      assert.ok(emulator.issued().length > before);
    });
  });
});

// ---- real credential_process consumers ----

function execFileResult(file: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const exit = (err as { code?: unknown } | null)?.code;
      const code = err === null ? 0 : typeof exit === 'number' ? exit : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('credential_process consumers (plain HTTP emulator)', () => {
  let httpEmu: RunningEmulator;
  let cdir: string;
  let configPath: string;

  before(async () => {
    httpEmu = await startEmulator({ config: defaultEmulatorConfig({ roots: [new X509Certificate(readFileSync(pki.rootPem))] }) });
    cdir = tempDir('ras-cp-consumer-');
    const leaf = pki.leaves['p384-int']!;
    // No shell metacharacters: botocore shlex-splits this line, the JS SDK hands it to a shell.
    const command = [
      process.execPath,
      CLI,
      'credential-process',
      '--certificate',
      formats[leaf.name]!.certWithChain,
      '--private-key',
      leaf.key,
      ...ARN_ARGS,
      '--endpoint',
      httpEmu.url.href.replace(/\/$/, ''),
      '--cache-dir',
      join(cdir, 'cache'),
    ].join(' ');
    configPath = join(cdir, 'config');
    writeFileSync(configPath, `[profile ra]\nregion = us-east-1\ncredential_process = ${command}\n`);
    writeFileSync(join(cdir, 'credentials'), '');
  });
  after(async () => {
    await httpEmu?.stop();
    if (cdir) cleanup(cdir);
  });

  const PY = `
import json, sys, boto3
s = boto3.Session(profile_name='ra')
c = s.get_credentials()
f = c.get_frozen_credentials()
r = s.client('sts', region_name='us-east-1', endpoint_url=sys.argv[1]).get_caller_identity()
print(json.dumps({'method': c.method, 'accessKey': f.access_key, 'arn': r['Arn'], 'account': r['Account']}))
`;

  for (const [label, python] of [
    ['botocore/boto3 under pyenv python3', join(process.env.HOME ?? '/root', '.pyenv', 'shims', 'python3')],
    ['botocore/boto3 under Debian /usr/bin/python3', '/usr/bin/python3'],
  ] as const) {
    test(label, async (t) => {
      if (!existsSync(python)) {
        unavailable(t, `${python} is not installed here (CI installs it)`);
        return;
      }
      const home = tempDir('ras-cp-home-');
      t.after(() => cleanup(home));
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        AWS_CONFIG_FILE: configPath,
        AWS_SHARED_CREDENTIALS_FILE: join(cdir, 'credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        LANG: 'C.UTF-8',
      };
      if (process.env.PYENV_ROOT !== undefined) env.PYENV_ROOT = process.env.PYENV_ROOT;
      const r = await execFileResult(python, ['-c', PY, httpEmu.url.href], env);
      if (r.code !== 0 && /No module named '?(boto3|botocore)/.test(r.stderr)) {
        unavailable(t, `${python} has no boto3/botocore (CI installs python3-boto3)`);
        return;
      }
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim()) as { method: string; accessKey: string; arn: string; account: string };
      assert.equal(out.method, 'custom-process');
      const rec = httpEmu.issued().find((x) => x.accessKeyId === out.accessKey);
      assert.ok(rec, 'botocore used credentials the emulator issued');
      assert.equal(out.arn, rec.assumedRoleArn);
      assert.equal(out.account, '123456789012');
    });
  }

  test('JS SDK v3 fromProcess + STSClient GetCallerIdentity', async () => {
    const { fromProcess } = await import('@aws-sdk/credential-providers');
    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    const provider = fromProcess({ profile: 'ra', configFilepath: configPath, filepath: join(cdir, 'credentials'), ignoreCache: true });
    const creds = await provider();
    assert.match(creds.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.ok(creds.expiration instanceof Date && creds.expiration.getTime() > Date.now());
    const sts = new STSClient({ region: 'us-east-1', endpoint: httpEmu.url.href, credentials: provider });
    try {
      const id = await sts.send(new GetCallerIdentityCommand({}));
      const rec = httpEmu.issued().find((x) => x.accessKeyId === creds.accessKeyId);
      assert.ok(rec, 'the JS SDK used credentials the emulator issued');
      assert.equal(id.Arn, rec.assumedRoleArn);
    } finally {
      sts.destroy();
    }
  });
});

// ---- the on-disk cache ----

describe('credential cache', () => {
  let httpEmu: RunningEmulator;
  let cdir: string;
  before(async () => {
    httpEmu = await startEmulator({ config: defaultEmulatorConfig({ roots: [new X509Certificate(readFileSync(pki.rootPem))] }) });
    cdir = tempDir('ras-cp-cache-');
  });
  after(async () => {
    await httpEmu?.stop();
    if (cdir) cleanup(cdir);
  });

  const base = (): string[] => {
    const leaf = pki.leaves['rsa-int']!;
    return [
      'credential-process',
      '--certificate',
      leaf.cert,
      '--private-key',
      leaf.key,
      '--intermediates',
      pki.intermediatePem,
      ...ARN_ARGS,
      '--endpoint',
      httpEmu.url.href.replace(/\/$/, ''),
    ];
  };

  test('five invocations with the cache make exactly one CreateSession; the entry is mode 0600', async () => {
    const cacheDir = join(cdir, 'cache');
    const start = httpEmu.stats().createSession.ok;
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) keys.push(assertCredentialOutput(await runCli([...base(), '--cache-dir', cacheDir]), `cached run ${i + 1}`));
    assert.equal(httpEmu.stats().createSession.ok - start, 1);
    assert.equal(new Set(keys).size, 1, 'every run printed the cached credentials');
    const entries = readdirSync(cacheDir).filter((n) => n.endsWith('.json'));
    assert.equal(entries.length, 1);
    assert.equal(statSync(join(cacheDir, entries[0]!)).mode & 0o777, 0o600);
    assert.equal(statSync(cacheDir).mode & 0o077, 0, 'the cache directory is private');
    const text = readFileSync(join(cacheDir, entries[0]!), 'utf8');
    assert.ok(!text.includes('PRIVATE KEY'), 'no key material in the cache');
  });

  test('--no-cache makes one CreateSession per invocation', async () => {
    const start = httpEmu.stats().createSession.ok;
    const keys: string[] = [];
    for (let i = 0; i < 3; i++)
      keys.push(assertCredentialOutput(await runCli([...base(), '--no-cache', '--cache-dir', join(cdir, 'unused')]), `uncached run ${i + 1}`));
    assert.equal(httpEmu.stats().createSession.ok - start, 3);
    assert.equal(new Set(keys).size, 3);
    assert.equal(existsSync(join(cdir, 'unused')), false, '--no-cache does not create the cache directory');
  });
});
