/**
 * The library entry point as an application uses it: `fromRolesAnywhere` imported by the
 * package's own name (package.json `exports`), handed to a real `@aws-sdk/client-sts`
 * client, which calls the emulator's STS GetCallerIdentity with the credentials the
 * provider got from the emulator's CreateSession over HTTPS with a custom CA.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { after, before, test } from 'node:test';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { fromRolesAnywhere, isSidecarError, SidecarError, type FromRolesAnywhereOptions } from 'rolesanywhere-sidecar';
import { cleanup, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';

let dir: string;
let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let arns: Pick<FromRolesAnywhereOptions, 'trustAnchorArn' | 'profileArn' | 'roleArn' | 'endpoint'>;

before(async () => {
  dir = tempDir('ras-sdk-');
  pki = await writePki(dir);
  emu = await startTestEmulator(pki, { https: true });
  arns = {
    trustAnchorArn: emu.env.ROLESANYWHERE_TRUST_ANCHOR_ARN!,
    profileArn: emu.env.ROLESANYWHERE_PROFILE_ARN!,
    roleArn: emu.env.ROLESANYWHERE_ROLE_ARN!,
    endpoint: emu.env.ROLESANYWHERE_ENDPOINT!,
  };
});

after(async () => {
  await emu?.stop();
  if (dir) cleanup(dir);
});

function sts(credentials: STSClient['config']['credentials'] | ReturnType<typeof fromRolesAnywhere>): STSClient {
  return new STSClient({
    region: 'us-east-1',
    endpoint: emu.url.href,
    credentials,
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(pki.tls.caPath, 'utf8') }) }),
  });
}

test('STS GetCallerIdentity with credentials from fromRolesAnywhere (file paths); concurrent SDK calls make one CreateSession', async () => {
  const provider = fromRolesAnywhere({
    ...arns,
    certificate: pki.rsa.cert,
    privateKey: pki.rsa.key,
    intermediates: pki.intermediatePem,
    caBundle: pki.tls.caPath,
    sessionName: 'sdk-provider-test',
  });
  const client = sts(provider);
  try {
    const start = emu.stats().createSession.ok;
    const out = await Promise.all([1, 2, 3].map(() => client.send(new GetCallerIdentityCommand({}))));
    for (const o of out) {
      assert.equal(o.Account, '123456789012');
      assert.match(o.Arn ?? '', /^arn:aws:sts::123456789012:assumed-role\/rolesanywhere-demo\/sdk-provider-test$/);
    }
    const direct = await Promise.all([provider(), provider()]);
    assert.equal(emu.stats().createSession.ok - start, 1, 'one CreateSession for every call');
    assert.equal(direct[0].accessKeyId, direct[1].accessKeyId);
    assert.ok(direct[0].expiration instanceof Date && direct[0].expiration.getTime() > Date.now() + 30 * 60_000, 'expiration is set, so the SDK refreshes');
    const forced = await provider({ forceRefresh: true });
    assert.notEqual(forced.accessKeyId, direct[0].accessKeyId);
    assert.equal(emu.stats().createSession.ok - start, 2);
  } finally {
    client.destroy();
    await provider.close();
  }
});

test('PEM strings and bytes instead of paths; EC P-384 under the intermediate', async () => {
  const provider = fromRolesAnywhere({
    ...arns,
    certificate: readFileSync(pki.ec384.cert, 'utf8'),
    privateKey: readFileSync(pki.ec384.key),
    intermediates: readFileSync(pki.intermediatePem, 'utf8'),
    caBundle: readFileSync(pki.tls.caPath, 'utf8'),
    durationSeconds: 900,
  });
  const client = sts(provider);
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, '123456789012');
    const c = await provider();
    assert.ok(c.expiration!.getTime() <= Date.now() + 900_000 + 5_000, 'the requested duration was used');
  } finally {
    client.destroy();
    await provider.close();
  }
});

test("failures reject with the project's typed errors", async () => {
  assert.throws(
    () => fromRolesAnywhere({ ...arns, roleArn: '', certificate: pki.rsa.cert }),
    (e: unknown) => isSidecarError(e) && e.code === 'CONFIG_INVALID',
  );
  assert.throws(
    () => fromRolesAnywhere({ ...arns, durationSeconds: 60, certificate: pki.rsa.cert }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID',
  );

  const mismatch = fromRolesAnywhere({ ...arns, certificate: pki.rsa.cert, privateKey: pki.ec256.key, caBundle: pki.tls.caPath });
  await assert.rejects(mismatch(), (e: unknown) => isSidecarError(e) && e.code === 'KEY_CERT_MISMATCH');

  const missing = fromRolesAnywhere({ ...arns, certificate: `${dir}/no-such.pem`, privateKey: pki.rsa.key, caBundle: pki.tls.caPath });
  await assert.rejects(missing(), (e: unknown) => isSidecarError(e) && e.code === 'FILE_UNREADABLE');

  // Without the CA bundle the emulator's certificate is not trusted: a TLS error, not retried.
  const untrusted = fromRolesAnywhere({ ...arns, certificate: pki.rsa.cert, privateKey: pki.rsa.key, intermediates: pki.intermediatePem });
  try {
    await assert.rejects(untrusted(), (e: unknown) => isSidecarError(e) && e.code === 'TLS_FAILURE');
  } finally {
    await untrusted.close();
  }
});
