/**
 * The real `serve` against the emulator, probed the way an attacker or a browser would:
 * DNS rebinding through the Host header, Fetch-metadata and Origin headers on every
 * credential path, per-listener exposure, the flags that lower security refused from the
 * environment, and the IMDS placement paths SDKs read their region from (botocore's own
 * region lookup, both versions).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { DEBIAN_PYTHON, findPyenvPython, jsV3, runProcess, sdkEnv } from '../helpers/sdk-clients.js';
import { assertServable, httpRequest, imdsToken, logLines, startServe, type ServeHandle } from '../helpers/serve-fixture.js';
import { unavailable } from '../helpers/tools.js';

let pki: PkiFiles;
let home: string;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;

before(async () => {
  pki = await writePki();
  home = tempDir('ras-hardening-home-');
  emu = await startTestEmulator(pki);
});

after(async () => {
  await emu?.stop();
  cleanup(home, pki?.dir);
});

const CREDS = 'latest/meta-data/iam/security-credentials/';

describe('Host and browser guards on the credential listeners', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe(['--allowed-host', 'sidecar.internal', ...sessionArgs(pki.ec256)], { env: emu.env });
  });
  after(() => serve.cli.stop());

  test('a rebinding Host is refused with 403 and a reason on the token PUT, the credential GET and the container GET', async () => {
    const imds = serve.imds!;
    const evil = { host: `evil.example:${imds.port}` };
    const put = await httpRequest(new URL('latest/api/token', imds), { method: 'PUT', headers: { ...evil, 'x-aws-ec2-metadata-token-ttl-seconds': '60' } });
    assert.equal(put.status, 403);
    assert.match(put.body, /evil\.example.*DNS rebinding/);

    const token = await imdsToken(imds);
    const get = await httpRequest(new URL(CREDS, imds), { headers: { ...evil, 'x-aws-ec2-metadata-token': token } });
    assert.equal(get.status, 403);
    assert.doesNotMatch(get.body, /AccessKeyId|Secret/);

    const container = await httpRequest(serve.container!, { headers: { host: `evil.example:${serve.container!.port}`, authorization: serve.token } });
    assert.equal(container.status, 403);
    assert.doesNotMatch(container.body, /AccessKeyId/);
  });

  test('IP literals, localhost and --allowed-host names are answered', async () => {
    const imds = serve.imds!;
    for (const host of [`127.0.0.1:${imds.port}`, `localhost:${imds.port}`, `SIDECAR.internal:${imds.port}`]) {
      const put = await httpRequest(new URL('latest/api/token', imds), { method: 'PUT', headers: { host, 'x-aws-ec2-metadata-token-ttl-seconds': '60' } });
      assert.equal(put.status, 200, host);
    }
    const c = await httpRequest(serve.container!, { headers: { host: `localhost:${serve.container!.port}`, authorization: serve.token } });
    assertServable(c, 'container via localhost');
  });

  test('Origin and Sec-Fetch-* are refused on every credential request, with a valid token', async () => {
    const imds = serve.imds!;
    const token = await imdsToken(imds);
    const role = (await httpRequest(new URL(CREDS, imds), { headers: { 'x-aws-ec2-metadata-token': token } })).body;
    for (const browser of [{ origin: 'http://127.0.0.1:8080' }, { 'sec-fetch-mode': 'no-cors' }, { 'sec-fetch-site': 'cross-site' }] as Array<
      Record<string, string>
    >) {
      const g = await httpRequest(new URL(`${CREDS}${role}`, imds), { headers: { ...browser, 'x-aws-ec2-metadata-token': token } });
      assert.equal(g.status, 403, JSON.stringify(browser));
      assert.match(g.body, /browsers/);
      const c = await httpRequest(serve.container!, { headers: { ...browser, authorization: serve.token } });
      assert.equal(c.status, 403, JSON.stringify(browser));
    }
  });

  test('the refusals are logged once per reason, without tokens', () => {
    const refused = logLines(serve.cli.stderr()).filter((l) => l.msg === 'refused a credential request');
    assert.ok(refused.length >= 3, serve.cli.stderr());
    assert.equal(new Set(refused.map((l) => `${String(l.listener)} ${String(l.reason)}`)).size, refused.length);
    assert.ok(!serve.cli.stderr().includes(serve.token));
  });

  test('an unmodified SDK still reads both endpoints', async () => {
    const e = serve.exports;
    const sts = { url: emu.url.href };
    const a = await jsV3('imds', sdkEnv(home, { AWS_EC2_METADATA_SERVICE_ENDPOINT: e.AWS_EC2_METADATA_SERVICE_ENDPOINT }), sts);
    const b = await jsV3(
      'http',
      sdkEnv(home, {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: e.AWS_CONTAINER_CREDENTIALS_FULL_URI,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: e.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
      }),
      sts,
    );
    assert.match(a.arn, /assumed-role/);
    assert.match(b.arn, /assumed-role/);
  });
});

describe('exposure: one opt-in per listener, command line only', () => {
  test('--ops-allow-non-loopback lets only the ops listener leave loopback', async () => {
    const r = await runCli(
      ['serve', '--address', '0.0.0.0', '--port', '0', '--container-port', '0', '--ops-port', '0', '--ops-allow-non-loopback', ...sessionArgs(pki.ec256)],
      {
        env: cliEnv(emu.env),
      },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /imds address 0\.0\.0\.0 .*--imds-allow-non-loopback.*\[ADDRESS_NOT_ALLOWED\]/);

    const ok = await startServe(['--ops-address', '0.0.0.0', '--ops-allow-non-loopback', ...sessionArgs(pki.ec256)], { env: emu.env });
    try {
      assert.equal(ok.imds!.hostname, '127.0.0.1');
      assert.ok(!/credential listener is not on loopback/.test(ok.cli.stderr()));
    } finally {
      await ok.cli.stop();
    }
  });

  test('a credential listener opted out of loopback is warned about at start', async () => {
    const s = await startServe(['--container-address', '0.0.0.0', '--container-allow-non-loopback', ...sessionArgs(pki.ec256)], { env: emu.env });
    try {
      const warn = logLines(s.cli.stderr()).find((l) => typeof l.msg === 'string' && l.msg.includes('container credential listener is not on loopback'));
      assert.ok(warn, s.cli.stderr());
      assert.equal(warn.level, 'warn');
    } finally {
      await s.cli.stop();
    }
  });

  for (const [variable, flag] of [
    ['ROLESANYWHERE_NO_VERIFY_SSL', '--no-verify-ssl'],
    ['ROLESANYWHERE_ALLOW_NON_LOOPBACK', '--allow-non-loopback'],
    ['ROLESANYWHERE_IMDS_ALLOW_NON_LOOPBACK', '--imds-allow-non-loopback'],
  ] as const) {
    test(`${variable} is refused from the environment, naming ${flag}`, async () => {
      const r = await runCli(['serve', '--port', '0', '--container-port', '0', '--ops-port', '0', ...sessionArgs(pki.ec256)], {
        env: cliEnv({ ...emu.env, [variable]: '1' }),
      });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`${variable} is not read from the environment.*${flag}.*\\[CONFIG_INVALID\\]`));
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    });
  }
});

describe('--serve-region: SDKs find their region through IMDS', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe(['--serve-region', ...sessionArgs(pki.ec256)], { env: emu.env });
  });
  after(() => serve.cli.stop());

  test('the placement paths answer with the session region and a synthetic zone', async () => {
    const token = await imdsToken(serve.imds!);
    const get = (p: string) => httpRequest(new URL(p, serve.imds), { headers: { 'x-aws-ec2-metadata-token': token } });
    assert.equal((await get('latest/meta-data/placement/region')).body, 'us-east-1');
    assert.equal((await get('latest/meta-data/placement/availability-zone/')).body, 'us-east-1a');
    assert.deepEqual(JSON.parse((await get('latest/dynamic/instance-identity/document')).body), { availabilityZone: 'us-east-1a', region: 'us-east-1' });
    assert.equal((await httpRequest(new URL('latest/meta-data/placement/region', serve.imds))).status, 401, 'tokens still required');
  });

  test('without the flag the placement paths stay 404', async () => {
    const plain = await startServe(sessionArgs(pki.ec256), { env: emu.env });
    try {
      const token = await imdsToken(plain.imds!);
      const r = await httpRequest(new URL('latest/meta-data/placement/region', plain.imds), { headers: { 'x-aws-ec2-metadata-token': token } });
      assert.equal(r.status, 404);
    } finally {
      await plain.cli.stop();
    }
  });

  test("botocore's own region lookup (pyenv 1.43 and Debian 1.29) finds the region", async (t) => {
    const pythons: string[] = [];
    const pyenv = await findPyenvPython();
    if (pyenv === undefined) unavailable(t, 'no pyenv python3 with botocore on PATH');
    else pythons.push(pyenv.python);
    if (!existsSync(DEBIAN_PYTHON)) unavailable(t, `${DEBIAN_PYTHON} with python3-botocore is not installed (CI installs it)`);
    else pythons.push(DEBIAN_PYTHON);
    // botocore's IMDS region lookup (used for defaults_mode=auto and by tools built on it).
    const script = 'import botocore.session, botocore.utils; print(botocore.utils.IMDSRegionProvider(botocore.session.get_session()).provide())';
    for (const python of pythons) {
      const r = await runProcess(python, ['-c', script], sdkEnv(home, { AWS_EC2_METADATA_SERVICE_ENDPOINT: serve.exports.AWS_EC2_METADATA_SERVICE_ENDPOINT }));
      assert.equal(r.code, 0, `${python}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), 'us-east-1', python);
    }
  });
});

describe("--use-fips-endpoint (the official helper's FIPS flag)", () => {
  /** A forward proxy that records CONNECT targets and refuses them: where the CLI would go, without a network. */
  async function connectRecorder(): Promise<{ url: string; targets: string[]; close(): Promise<void> }> {
    const { createServer } = await import('node:http');
    const targets: string[] = [];
    const server = createServer((_req, res) => res.writeHead(405).end());
    server.on('connect', (req, socket) => {
      targets.push(req.url ?? '');
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    return { url: `http://127.0.0.1:${port}`, targets, close: () => new Promise((r) => server.close(() => r())) };
  }

  test('the flag and AWS_USE_FIPS_ENDPOINT both send CreateSession to rolesanywhere-fips.<region>', async () => {
    const proxy = await connectRecorder();
    try {
      const arns = [
        '--trust-anchor-arn',
        'arn:aws:rolesanywhere:us-east-2:123456789012:trust-anchor/11111111-2222-3333-4444-555555555555',
        '--profile-arn',
        'arn:aws:rolesanywhere:us-east-2:123456789012:profile/11111111-2222-3333-4444-555555555555',
        '--role-arn',
        'arn:aws:iam::123456789012:role/app',
      ];
      const base = ['credential-process', '--no-cache', '--certificate', pki.ec256.cert, '--private-key', pki.ec256.key, ...arns];
      for (const [args, env] of [
        [[...base, '--use-fips-endpoint'], {}],
        [base, { AWS_USE_FIPS_ENDPOINT: 'true' }],
      ] as Array<[string[], Record<string, string>]>) {
        const r = await runCli(args, { env: cliEnv({ HOME: home, HTTPS_PROXY: proxy.url, ...env }) });
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /rolesanywhere-fips\.us-east-2\.amazonaws\.com/);
      }
      assert.ok(proxy.targets.length >= 2);
      for (const t of proxy.targets) assert.equal(t, 'rolesanywhere-fips.us-east-2.amazonaws.com:443');
      // With an explicit endpoint the flag is a contradiction, said in one line.
      const c = await runCli([...base, '--use-fips-endpoint', '--endpoint', 'https://127.0.0.1:1'], { env: cliEnv({ HOME: home }) });
      assert.notEqual(c.code, 0);
      assert.match(c.stderr.trim(), /cannot be combined with FIPS/);
      assert.equal(c.stderr.trim().split('\n').length, 1);
    } finally {
      await proxy.close();
    }
  });
});
