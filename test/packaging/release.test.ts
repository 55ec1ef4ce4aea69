/**
 * The release artifacts of `npm run package`, built once here and used as users use them:
 * - the single executable with no `node` on PATH: version, demo, credential-process
 *   against the emulator over HTTPS, serve read by real SDK clients through IMDS and the
 *   container endpoint;
 * - the .deb: its control fields, files, modes and conffiles, its maintainer scripts run
 *   with recording stand-ins for the systemd helpers (nothing enabled or started), the
 *   unit as installed through `systemd-analyze verify`, the binary run from a root
 *   it was unpacked into (`dpkg-deb -x`);
 * - the npm tarball: only what runs, installed with `npm install -g --prefix` and run,
 *   through `npx`, and imported as the library.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, REPO_ROOT, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { openssl } from '../helpers/openssl-pki.js';
import { debVersion } from '../../packaging/deb.js';
import { buildRelease, EXECUTABLE, pathWithoutNode, RELEASE, VERSION } from '../helpers/release.js';
import { boto3, DEBIAN_PYTHON, hasDebianBotocore, jsV2, jsV3, sdkEnv, type CallerIdentity, type StsTarget } from '../helpers/sdk-clients.js';
import { startServe, type ServeHandle } from '../helpers/serve-fixture.js';
import { unavailable } from '../helpers/tools.js';
import { createSoftHsm, SOFTHSM_LIB, USER_PIN } from '../helpers/softhsm.js';

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let home: string;
let sts: StsTarget;

before(async () => {
  await buildRelease();
  pki = await writePki();
  emu = await startTestEmulator(pki, { https: true });
  home = tempDir('ras-release-home-');
  sts = { url: emu.url.href, caPath: pki.tls.caPath };
});

after(async () => {
  await emu?.stop();
  cleanup(home, pki?.dir);
});

/** The executable's environment: no node on PATH, a private HOME, the emulator's settings. */
function noNodeEnv(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({ PATH: pathWithoutNode(), HOME: home, ...extra });
}

function assertIssued(id: CallerIdentity | { accessKeyId: string }): void {
  assert.ok(
    emu.issued().some((r) => r.accessKeyId === id.accessKeyId),
    `access key ${id.accessKeyId} was not issued by the emulator`,
  );
}

describe('single executable, with no node on PATH', () => {
  test('the PATH it runs with has no node', () => {
    const path = noNodeEnv().PATH!;
    for (const d of path.split(':')) assert.throws(() => statSync(join(d, 'node')), `${d} has a node`);
  });

  test('version prints the package version', async () => {
    const r = await runCli(['version'], { executable: EXECUTABLE, env: noNodeEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${VERSION}\n`);
    assert.equal(r.stderr, '', 'no SEA warning or other noise on standard error');
  });

  test('demo --once runs on the certs-example material inside the executable', async () => {
    const r = await runCli(['demo', '--once'], { executable: EXECUTABLE, env: noNodeEnv(), timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /arn:aws:sts::\d{12}:assumed-role\//);
  });

  test('credential-process: a CreateSession over HTTPS, then the cache', async () => {
    const env = noNodeEnv(emu.env);
    const first = await runCli(['credential-process', ...sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem])], { executable: EXECUTABLE, env });
    assert.equal(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout) as { Version: number; AccessKeyId: string; Expiration: string };
    assert.equal(a.Version, 1);
    assertIssued({ accessKeyId: a.AccessKeyId });
    const calls = emu.issued().length;
    const second = await runCli(['credential-process', ...sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem])], { executable: EXECUTABLE, env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { AccessKeyId: string }).AccessKeyId, a.AccessKeyId);
    assert.equal(emu.issued().length, calls, 'the second run is a cache hit');
  });

  test('credential-process with a PKCS#12 bundle (node-forge inside the executable)', async () => {
    const p12 = join(pki.dir, 'leaf-ec256.p12');
    await openssl(['pkcs12', '-export', '-in', pki.ec256.cert, '-inkey', pki.ec256.key, '-passout', 'pass:pw-release', '-out', p12]);
    const r = await runCli(['credential-process', '--no-cache', '--certificate', p12], {
      executable: EXECUTABLE,
      env: noNodeEnv({ ...emu.env, ROLESANYWHERE_PKCS8_PASSWORD: 'pw-release' }),
    });
    assert.equal(r.code, 0, r.stderr);
    assertIssued({ accessKeyId: (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId });
  });

  describe('serve, read by SDK clients', () => {
    let serve: ServeHandle;
    before(async () => {
      serve = await startServe(sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem]), { env: noNodeEnv(emu.env), executable: EXECUTABLE });
    });
    after(async () => {
      await serve?.cli.stop();
    });
    const imds = () => ({ AWS_EC2_METADATA_SERVICE_ENDPOINT: serve.exports.AWS_EC2_METADATA_SERVICE_ENDPOINT! });
    const container = () => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: serve.exports.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: serve.exports.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!,
    });
    test('JS v3 fromInstanceMetadata (IMDS)', async () => {
      assertIssued(await jsV3('imds', sdkEnv(home, imds()), sts));
    });
    test('JS v3 fromHttp (container endpoint)', async () => {
      assertIssued(await jsV3('http', sdkEnv(home, container()), sts));
    });
    test('JS v2 ECSCredentials (container endpoint)', async () => {
      assertIssued(await jsV2('ecs', sdkEnv(home, container()), sts));
    });
    test("Debian's botocore, IMDS", async (t) => {
      if (!(await hasDebianBotocore())) return unavailable(t, 'python3-botocore is not installed');
      assertIssued(await boto3(DEBIAN_PYTHON, sdkEnv(home, imds()), sts));
    });
    test('SIGTERM: exit 0', async () => {
      const r = await serve.cli.stop('SIGTERM');
      assert.equal(r.code, 0);
    });
  });
});

function sh(cmd: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000, ...o });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.error?.message ?? ''}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('Debian package', () => {
  const deb = () => join(RELEASE, `rolesanywhere-sidecar_${debVersion(VERSION)}_amd64.deb`);
  let root: string;
  before(() => {
    root = tempDir('ras-deb-root-');
    sh('dpkg-deb', ['-x', deb(), root]);
  });
  after(() => cleanup(root));

  test('control: name, version, architecture, shared-library Depends and no nodejs', () => {
    const info = sh('dpkg-deb', ['-f', deb()]);
    const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(info)?.[1];
    assert.equal(field('Package'), 'rolesanywhere-sidecar');
    assert.equal(field('Version'), debVersion(VERSION));
    assert.equal(field('Architecture'), 'amd64');
    const depends = field('Depends') ?? '';
    assert.match(depends, /\blibc6 \(>= [\d.]+\)/);
    assert.match(depends, /\blibstdc\+\+6\b/);
    assert.doesNotMatch(depends, /node/);
    assert.match(sh('dpkg-deb', ['-I', deb()]), /\bpostinst\b[\s\S]*\bpostrm\b[\s\S]*\bprerm\b/);
  });

  test('files, owners and modes; the env files are conffiles', () => {
    const listing = sh('dpkg-deb', ['-c', deb()]);
    const entry = (path: string) => listing.split('\n').find((l) => l.endsWith(` ./${path}`) || l.includes(` ./${path} `));
    assert.match(entry('usr/bin/rolesanywhere-sidecar') ?? '', /^-rwxr-xr-x root\/root /);
    assert.match(entry('lib/systemd/system/rolesanywhere-sidecar.service') ?? '', /^-rw-r--r-- root\/root /);
    assert.match(entry('etc/rolesanywhere-sidecar/sidecar.env') ?? '', /^-rw------- root\/root /);
    assert.match(entry('etc/rolesanywhere-sidecar/client.env') ?? '', /^-rw-r--r-- root\/root /);
    assert.match(entry('usr/share/doc/rolesanywhere-sidecar/copyright') ?? '', /^-rw-r--r-- root\/root /);
    for (const l of listing.split('\n').filter((x) => x !== '')) assert.match(l, / root\/root /, l);
    // The unit is the repository's example, byte for byte: one source of truth.
    assert.equal(
      readFileSync(join(root, 'lib/systemd/system/rolesanywhere-sidecar.service'), 'utf8'),
      readFileSync(join(REPO_ROOT, 'examples/systemd/rolesanywhere-sidecar.service'), 'utf8'),
    );
    const control = tempDir('ras-deb-control-');
    try {
      sh('dpkg-deb', ['-e', deb(), control]);
      assert.deepEqual(readFileSync(join(control, 'conffiles'), 'utf8').trim().split('\n'), [
        '/etc/rolesanywhere-sidecar/sidecar.env',
        '/etc/rolesanywhere-sidecar/client.env',
      ]);
      // md5sums covers every file of the payload.
      const sums = readFileSync(join(control, 'md5sums'), 'utf8').trim().split('\n').length;
      assert.equal(sums, listing.split('\n').filter((l) => l.startsWith('-')).length);
    } finally {
      cleanup(control);
    }
  });

  test('maintainer scripts register the unit but enable and start nothing', () => {
    const control = tempDir('ras-deb-scripts-');
    try {
      sh('dpkg-deb', ['-e', deb(), control]);
      // Stand-ins for the systemd helpers that record their arguments; /run/systemd/system
      // decides whether systemctl is called, so both the install and the upgrade paths run.
      const bin = join(control, 'bin');
      mkdirSync(bin);
      const log = join(control, 'calls.log');
      for (const tool of ['deb-systemd-helper', 'deb-systemd-invoke', 'systemctl']) {
        writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\n`);
        chmodSync(join(bin, tool), 0o755);
      }
      const env = { PATH: `${bin}:/usr/bin:/bin` };
      sh('sh', [join(control, 'postinst'), 'configure'], { env });
      sh('sh', [join(control, 'postinst'), 'configure', '0.0.1'], { env });
      sh('sh', [join(control, 'prerm'), 'remove'], { env });
      const calls = existsSync(log) ? readFileSync(log, 'utf8') : '';
      assert.match(calls, /deb-systemd-helper update-state rolesanywhere-sidecar\.service/);
      // try-restart restarts a running service on upgrade and never starts a stopped one.
      for (const l of calls.split('\n').filter((x) => x !== '')) assert.doesNotMatch(l, / (enable|reenable|start|restart) /, `a maintainer script ran: ${l}`);
      const commands = readFileSync(join(control, 'postinst'), 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(#|echo )/.test(l));
      for (const l of commands) assert.doesNotMatch(l, /deb-systemd-helper enable|systemctl .*\b(enable|start)\b|deb-systemd-invoke (start|restart)/, l);
    } finally {
      cleanup(control);
    }
  });

  test('systemd-analyze verify accepts the installed unit', (t) => {
    const help = spawnSync('systemd-analyze', ['--help'], { encoding: 'utf8' });
    if (help.error !== undefined || help.status !== 0) return unavailable(t, 'systemd-analyze is not installed (apt-get install systemd)');
    const unit = join(root, 'lib/systemd/system/rolesanywhere-sidecar.service');
    const args = ['verify', '--man=no', `--root=${root}`];
    if (help.stdout.includes('--recursive-errors')) args.push('--recursive-errors=no');
    const r = spawnSync('systemd-analyze', [...args, unit], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice', SYSTEMD_LOG_COLOR: '0' },
      timeout: 60_000,
    });
    const own = `${r.stderr}${r.stdout}`.split('\n').filter((l) => l.includes('rolesanywhere-sidecar.service'));
    assert.deepEqual(own, [], `${r.stderr}${r.stdout}`);
    assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
  });

  test('the installed binary runs from the unpacked root with no node on PATH', async () => {
    const bin = join(root, 'usr/bin/rolesanywhere-sidecar');
    const v = await runCli(['version'], { executable: bin, env: noNodeEnv() });
    assert.equal(v.stdout, `${VERSION}\n`);
    // The conffile parses as the unit's EnvironmentFile would give it: ROLESANYWHERE_* only.
    const envFile = readFileSync(join(root, 'etc/rolesanywhere-sidecar/sidecar.env'), 'utf8');
    assert.match(envFile, /^ROLESANYWHERE_TRUST_ANCHOR_ARN=/m);
    const r = await runCli(['credential-process', '--no-cache', ...sessionArgs(pki.ec256)], { executable: bin, env: noNodeEnv(emu.env) });
    assert.equal(r.code, 0, r.stderr);
    assertIssued({ accessKeyId: (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId });
  });

  test('PKCS#11 from the .deb: the installed binary loads the shipped pkcs11js and signs on a SoftHSM2 token', async () => {
    assert.ok(existsSync(join(root, 'usr/lib/rolesanywhere-sidecar/node_modules/pkcs11js/build/Release/pkcs11.node')), 'the .deb carries the addon');
    assert.match(sh('dpkg-deb', ['-f', deb(), 'Depends']), /libstdc\+\+6/, "the addon's C++ runtime is a dependency");
    const hsm = createSoftHsm(['deb-token']);
    try {
      hsm.importKey('deb-token', pki.ec256.issued.keyPem, 'deb-key', '0d');
      hsm.importCertificate('deb-token', pki.ec256.issued.certPem, 'deb-cert', '0d');
      const r = await runCli(['credential-process', '--no-cache', '--certificate', 'pkcs11:token=deb-token;object=deb-cert'], {
        executable: join(root, 'usr/bin/rolesanywhere-sidecar'),
        env: noNodeEnv({ ...emu.env, ...hsm.env, ROLESANYWHERE_PKCS11_LIB: SOFTHSM_LIB, ROLESANYWHERE_PKCS11_PIN: USER_PIN }),
      });
      assert.equal(r.code, 0, r.stderr);
      assertIssued({ accessKeyId: (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId });
    } finally {
      cleanup(hsm.dir);
    }
  });
});

describe('npm package', () => {
  const tarball = () => join(RELEASE, `rolesanywhere-sidecar-${VERSION}.tgz`);
  let prefix: string;
  before(() => {
    prefix = tempDir('ras-npm-prefix-');
    // Dependencies come from npm's cache (filled by `npm ci`) when it has them.
    sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball()]);
  });
  after(() => cleanup(prefix));

  test('the tarball ships what runs: no tests, no sources, no source maps', () => {
    const list = sh('tar', ['-tzf', tarball()]).trim().split('\n');
    assert.ok(list.includes('package/dist/cmd/rolesanywhere-sidecar.js'));
    assert.ok(list.includes('package/dist/src/index.js') && list.includes('package/dist/src/index.d.ts'));
    assert.ok(list.includes('package/LICENSE') && list.includes('package/README.md'));
    assert.ok(list.includes('package/certs-example/root-ca.pem'));
    for (const f of list) {
      assert.doesNotMatch(f, /\.test\.|\.map$|\.ts$(?<!\.d\.ts)|^package\/(test|bench|packaging|src|helm|examples)\/|test-support|testing\./, f);
    }
    const pkg = JSON.parse(sh('tar', ['-xzOf', tarball(), 'package/package.json'])) as { private?: boolean };
    assert.equal(pkg.private, undefined);
  });

  test('npm install -g: the bin runs version, demo and credential-process', async () => {
    const bin = join(prefix, 'bin', 'rolesanywhere-sidecar');
    const env = cliEnv({ HOME: home });
    assert.equal((await runCli(['version'], { executable: bin, env })).stdout, `${VERSION}\n`);
    const demo = await runCli(['demo', '--once'], { executable: bin, env, timeoutMs: 120_000 });
    assert.equal(demo.code, 0, demo.stderr);
    const r = await runCli(['credential-process', '--no-cache', ...sessionArgs(pki.ec256)], { executable: bin, env: cliEnv({ HOME: home, ...emu.env }) });
    assert.equal(r.code, 0, r.stderr);
    assertIssued({ accessKeyId: (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId });
  });

  test('npx runs the package, as the README shows', () => {
    const out = sh('npx', ['--yes', '--prefer-offline', `--package=${tarball()}`, 'rolesanywhere-sidecar', 'version'], {
      env: { ...process.env, npm_config_loglevel: 'error' },
    });
    assert.equal(out, `${VERSION}\n`);
  });

  test('the installed package is the library: fromRolesAnywhere is exported', async () => {
    const dir = join(prefix, 'lib', 'node_modules', 'rolesanywhere-sidecar');
    assert.deepEqual(
      readdirSync(dir).sort(),
      ['LICENSE', 'README.md', 'certs-example', 'dist', 'node_modules', 'package.json'].filter((n) => existsSync(join(dir, n))).sort(),
    );
    const lib = (await import(pathToFileURL(join(dir, 'dist', 'src', 'index.js')).href)) as { fromRolesAnywhere?: unknown };
    assert.equal(typeof lib.fromRolesAnywhere, 'function');
  });
});

test("the README's Install section names the artifacts npm run package built", () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const install = readme.slice(readme.indexOf('## Install'), readme.indexOf('## Commands'));
  const named = new Set([...install.matchAll(/dist\/release\/([^\s`)]+)/g)].map((m) => m[1]!));
  const built = new Set(readdirSync(RELEASE));
  assert.ok(named.size >= 3, [...named].join(' '));
  for (const n of named) assert.ok(built.has(n), `README names dist/release/${n}; built: ${[...built].join(' ')}`);
  for (const b of built) assert.ok(named.has(b), `dist/release/${b} has no Install section`);
});
