/**
 * `demo`: the quick start. Runs the emulator over HTTPS with certs-example/ as the trust
 * anchor, the sidecar against it, then does what an SDK does: reads credentials through the
 * IMDS and container endpoints and calls STS GetCallerIdentity with them.
 */
// The emulator issues certificates with @peculiar/x509, which resolves its parsers through
// tsyringe: the Reflect metadata polyfill must be installed before it loads, so first.
import 'reflect-metadata';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { Agent, request } from 'undici';
import { SidecarError } from '../core/errors.js';
import type { Credentials } from '../core/credentials.js';
import { parseArgs, Options } from '../config/parse.js';
import { issueCertificate } from '../emulator/index.js';
import { emulatorEnv, startEmulatorFromOptions } from './emulator.js';
import { writeOut, type CliIo } from './io.js';
import { CERTS_EXAMPLE_FILES, readCertsExample } from './certs-example.js';
import { startSidecar } from './runtime.js';

interface WireCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  Expiration: string;
}

async function getText(url: string, headers: Record<string, string>, method = 'GET'): Promise<string> {
  const res = await request(url, { method, headers });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new SidecarError('INTERNAL', `${method} ${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  return text;
}

/** What the AWS SDKs' IMDSv2 provider does: token, role name, credentials document. */
async function viaImds(base: string): Promise<WireCredentials> {
  const token = await getText(`${base}latest/api/token`, { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' }, 'PUT');
  const role = await getText(`${base}latest/meta-data/iam/security-credentials/`, { 'x-aws-ec2-metadata-token': token });
  return JSON.parse(await getText(`${base}latest/meta-data/iam/security-credentials/${role}`, { 'x-aws-ec2-metadata-token': token })) as WireCredentials;
}

/** STS GetCallerIdentity signed with SigV4 by the AWS SDK's own signer. */
async function getCallerIdentity(stsUrl: URL, c: Credentials, dispatcher: Agent, nowMs: number): Promise<string> {
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const signer = new SignatureV4({
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken },
    region: 'us-east-1',
    service: 'sts',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: stsUrl.protocol,
      hostname: stsUrl.hostname,
      port: Number(stsUrl.port),
      path: '/',
      query: {},
      headers: { host: stsUrl.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    },
    { signingDate: new Date(nowMs) },
  );
  const res = await request(new URL('/', stsUrl), { method: 'POST', headers: signed.headers, body, dispatcher });
  const text = await res.body.text();
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1];
  if (res.statusCode !== 200 || arn === undefined)
    throw new SidecarError('INTERNAL', `STS GetCallerIdentity answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return arn;
}

export async function demo(opts: Options, io: CliIo): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'rolesanywhere-demo-'));
  const out = (s: string) => writeOut(io.stdout, `${s}\n`);
  try {
    // certs-example/ copied into the work directory: the same paths whether it comes from
    // the package root or from inside the single executable.
    const certs = join(work, 'certs-example');
    await mkdir(certs, { mode: 0o700 });
    for (const name of CERTS_EXAMPLE_FILES) await writeFile(join(certs, name), await readCertsExample(name), { mode: 0o600 });
    // A throwaway TLS CA for the emulator's HTTPS listener, trusted through --ca-bundle.
    const now = new Date(io.clock.now());
    const validity = { notBefore: new Date(now.getTime() - 3_600_000), notAfter: new Date(now.getTime() + 7 * 86_400_000) };
    const tlsCa = await issueCertificate({ subject: 'CN=rolesanywhere-sidecar demo TLS CA', keySpec: 'ec-p256', isCa: true, ...validity });
    const tlsServer = await issueCertificate(
      { subject: 'CN=127.0.0.1', keySpec: 'ec-p256', serverNames: { ips: ['127.0.0.1'], dns: ['localhost'] }, ...validity },
      tlsCa,
    );
    const caBundle = join(work, 'tls-ca.pem');
    await writeFile(caBundle, tlsCa.certPem, { mode: 0o600 });

    // Quiet, human-readable logs unless asked otherwise: the demo's own lines are the point.
    const explicit = (flag: string) => opts.parsed.origin.has(flag);
    const level = opts.bool('debug') ? ['--debug'] : ['--log-level', opts.str('log-level') ?? 'warn'];
    const common = [...level, '--log-format', explicit('log-format') ? opts.str('log-format')! : 'text'];
    const emuOpts = new Options(parseArgs('emulator', [...common, '--trust-anchor-ca', join(certs, 'root-ca.pem')], {}, io.env));
    const emu = await startEmulatorFromOptions(emuOpts, io, { tls: { certPem: tlsServer.certPem, keyPem: tlsServer.keyPem } });
    const env = Object.fromEntries(emulatorEnv(emu));
    await out(`Roles Anywhere emulator: ${emu.url.href} (trust anchor: certs-example/root-ca.pem)`);

    const serveArgs = [
      ...common,
      '--certificate',
      join(certs, 'leaf-rsa.pem'),
      '--private-key',
      join(certs, 'leaf-rsa.key'),
      '--intermediates',
      join(certs, 'intermediate-ca.pem'),
      '--trust-anchor-arn',
      env.ROLESANYWHERE_TRUST_ANCHOR_ARN!,
      '--profile-arn',
      env.ROLESANYWHERE_PROFILE_ARN!,
      '--role-arn',
      env.ROLESANYWHERE_ROLE_ARN!,
      '--endpoint',
      env.ROLESANYWHERE_ENDPOINT!,
      '--ca-bundle',
      caBundle,
      '--port',
      '0',
      '--container-port',
      '0',
      '--ops-port',
      '0',
    ];
    const sidecar = await startSidecar(new Options(parseArgs('serve', serveArgs, {}, io.env)), io, { component: 'demo' });
    const tlsAgent = new Agent({ connect: { ca: tlsCa.certPem } });
    try {
      await sidecar.refresher.waitForFirst(undefined, 30_000);
      await out('Sidecar serving. A client needs:');
      for (const [k, v] of sidecar.clientEnv) await out(`  export ${k}=${v}`);

      const imds = await viaImds(sidecar.clientEnv.find(([k]) => k === 'AWS_EC2_METADATA_SERVICE_ENDPOINT')![1]);
      await out(`IMDSv2: AccessKeyId ${imds.AccessKeyId}, expires ${imds.Expiration}`);
      const fullUri = sidecar.clientEnv.find(([k]) => k === 'AWS_CONTAINER_CREDENTIALS_FULL_URI')![1];
      const container = JSON.parse(await getText(fullUri, { authorization: sidecar.containerToken! })) as WireCredentials;
      await out(`Container endpoint: AccessKeyId ${container.AccessKeyId}, expires ${container.Expiration}`);

      const arn = await getCallerIdentity(
        emu.url,
        { accessKeyId: imds.AccessKeyId, secretAccessKey: imds.SecretAccessKey, sessionToken: imds.Token, expiration: Date.parse(imds.Expiration) },
        tlsAgent,
        io.clock.now(),
      );
      await out(`STS GetCallerIdentity with the served credentials: ${arn}`);

      if (!opts.bool('once')) {
        await out('Serving until Ctrl-C.');
        const offs: Array<() => void> = [];
        await new Promise<void>((resolve) => offs.push(io.onSignal('SIGINT', resolve), io.onSignal('SIGTERM', resolve)));
        for (const off of offs) off();
      }
      await out('OK');
      return 0;
    } finally {
      await sidecar.stop(1_000);
      await tlsAgent.close();
      await emu.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
