import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { Clock } from '../core/clock.js';
import { defaultEmulatorConfig } from './config.js';
import { startEmulator, type RunningEmulator } from './server.js';
import { createTestPki, sendRaw, sendSigned, signWith, type TestPki } from '../../test/helpers/emulator-support.js';

/** The fields of a CreateSession answer these tests read. */
interface SessionBody {
  credentialSet: Array<{
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
    assumedRoleUser: { arn: string; assumedRoleId: string };
    sourceIdentity?: string;
  }>;
}

/*
 * The SDK signs with the real time, so the emulator runs on real time too, shifted by
 * `offset` when a test needs the credentials to be old (the SDK is shifted the same way
 * through its systemClockOffset).
 */
let offset = 0;
const shiftedClock: Clock = { now: () => Date.now() + offset };

interface Issued {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  assumedRoleArn: string;
  assumedRoleId: string;
}

let pki: TestPki;
let emu: RunningEmulator;
before(async () => {
  pki = await createTestPki();
  emu = await startEmulator({ config: defaultEmulatorConfig({ roots: [pki.root.cert], credentialLifetimeSeconds: 600 }), clock: shiftedClock });
});
after(() => emu.stop());

async function createSession(): Promise<Issued> {
  const res = await sendSigned(emu.url, signWith(pki.leafEc256, { host: emu.url.host, nowMs: shiftedClock.now() }));
  assert.equal(res.status, 201, res.body);
  const set = (JSON.parse(res.body) as SessionBody).credentialSet[0]!;
  const { accessKeyId, secretAccessKey, sessionToken } = set.credentials;
  return { accessKeyId, secretAccessKey, sessionToken, assumedRoleArn: set.assumedRoleUser.arn, assumedRoleId: set.assumedRoleUser.assumedRoleId };
}

function client(c: { accessKeyId: string; secretAccessKey: string; sessionToken: string }, systemClockOffset = 0): STSClient {
  const credentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
  return new STSClient({ region: 'us-east-1', endpoint: emu.url.origin, credentials, maxAttempts: 1, systemClockOffset });
}

async function callerIdentity(c: STSClient): Promise<{ Arn?: string; Account?: string; UserId?: string }> {
  try {
    return await c.send(new GetCallerIdentityCommand({}));
  } finally {
    c.destroy();
  }
}

describe('STS GetCallerIdentity with @aws-sdk/client-sts', () => {
  test('answers with the assumed role of the issued credentials', async () => {
    const creds = await createSession();
    const id = await callerIdentity(client(creds));
    assert.equal(id.Arn, creds.assumedRoleArn);
    assert.match(id.Arn ?? '', /^arn:aws:sts::123456789012:assumed-role\/rolesanywhere-demo\/[0-9a-f]+$/);
    assert.equal(id.Account, '123456789012');
    assert.equal(id.UserId, creds.assumedRoleId);
  });

  test('SignatureDoesNotMatch for a tampered secret', async () => {
    const creds = await createSession();
    const tampered = { ...creds, secretAccessKey: `${creds.secretAccessKey.slice(0, -1)}${creds.secretAccessKey.endsWith('A') ? 'B' : 'A'}` };
    await assert.rejects(callerIdentity(client(tampered)), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'SignatureDoesNotMatch');
      assert.equal(e.$metadata?.httpStatusCode, 403);
      return true;
    });
  });

  test('InvalidClientTokenId for an unknown key or a wrong session token', async () => {
    const creds = await createSession();
    await assert.rejects(callerIdentity(client({ ...creds, accessKeyId: 'ASIAAAAAAAAAAAAAAAAA' })), { name: 'InvalidClientTokenId' });
    await assert.rejects(callerIdentity(client({ ...creds, sessionToken: `${creds.sessionToken}x` })), { name: 'InvalidClientTokenId' });
  });

  test('ExpiredToken once the credentials are past their expiration', async () => {
    const creds = await createSession();
    offset = 601_000;
    try {
      await assert.rejects(callerIdentity(client(creds, offset)), { name: 'ExpiredToken' });
    } finally {
      offset = 0;
    }
  });

  test('SignatureDoesNotMatch when the request was signed more than 5 minutes off', async () => {
    const creds = await createSession();
    await assert.rejects(callerIdentity(client(creds, -6 * 60_000)), (e: Error) => e.name === 'SignatureDoesNotMatch' && /Signature expired/.test(e.message));
  });

  test('is not affected by a Roles Anywhere outage', async () => {
    const creds = await createSession();
    emu.faults.setOutage(true);
    try {
      const id = await callerIdentity(client(creds));
      assert.equal(id.Arn, creds.assumedRoleArn);
    } finally {
      emu.faults.setOutage(false);
    }
  });
});

describe('STS over GET and raw requests', () => {
  test('accepts a GET with the query, signed by the SDK signer', async () => {
    const creds = await createSession();
    const signer = new SignatureV4({
      service: 'sts',
      region: 'eu-west-1',
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
      sha256: Sha256,
    });
    const query = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
    const req = await signer.sign({
      method: 'GET',
      protocol: 'http:',
      hostname: emu.url.hostname,
      port: Number(emu.url.port),
      path: '/',
      query,
      headers: { host: emu.url.host },
    });
    const res = await sendRaw(emu.url, 'GET', '/?Action=GetCallerIdentity&Version=2011-06-15', Object.entries(req.headers), '');
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, new RegExp(`<Arn>${creds.assumedRoleArn}</Arn>`));
    assert.match(res.body, /<GetCallerIdentityResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">/);

    // The same signature over another query does not verify.
    const other = await sendRaw(emu.url, 'GET', '/?Action=GetCallerIdentity&Version=2011-06-15&Extra=1', Object.entries(req.headers), '');
    assert.equal(other.status, 403);
    assert.match(other.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  });

  test('answers unsigned and unknown actions with STS errors', async () => {
    const unsigned = await sendRaw(
      emu.url,
      'POST',
      '/',
      [['content-type', 'application/x-www-form-urlencoded']],
      'Action=GetCallerIdentity&Version=2011-06-15',
    );
    assert.equal(unsigned.status, 403);
    assert.match(unsigned.body, /<Code>MissingAuthenticationToken<\/Code>/);
    const unknown = await sendRaw(emu.url, 'POST', '/', [['content-type', 'application/x-www-form-urlencoded']], 'Action=GetSessionToken&Version=2011-06-15');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /<Code>InvalidAction<\/Code>/);
  });

  test('rejects a body that does not match x-amz-content-sha256', async () => {
    const creds = await createSession();
    const signer = new SignatureV4({
      service: 'sts',
      region: 'us-east-1',
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
      sha256: Sha256,
    });
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const headers = { host: emu.url.host, 'content-type': 'application/x-www-form-urlencoded' };
    const req = await signer.sign({ method: 'POST', protocol: 'http:', hostname: emu.url.hostname, path: '/', query: {}, headers, body });
    const good = await sendRaw(emu.url, 'POST', '/', Object.entries(req.headers), body);
    assert.equal(good.status, 200, good.body);
    const bad = await sendRaw(emu.url, 'POST', '/', Object.entries(req.headers), `${body}&X=1`);
    assert.equal(bad.status, 403);
    assert.match(bad.body, /SignatureDoesNotMatch/);
  });
});
