// Real AWS SDK credential providers read the endpoints: JS v3 (@aws-sdk/credential-providers,
// i.e. the smithy IMDS and container providers) and JS v2, whose IMDS client requests
// `<endpoint>/latest/...` and so sends `//latest/...` with the trailing-slash endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromContainerMetadata, fromInstanceMetadata } from '@aws-sdk/credential-providers';
import { isoSeconds } from '../core/clock.js';
import { createContainerHandler } from './container.js';
import { createImdsHandler } from './imds.js';
import { startListener } from './listener.js';
import { SettableView, testCredentials } from '../../test/helpers/serve-support.js';
import { generateToken, writeSecretFile } from './token.js';

// Everything an SDK might read from the environment; each test sets only what it needs.
const SDK_ENV = [
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_EC2_METADATA_V1_DISABLED',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE',
];

function setEnv(t: { after(fn: () => void): void }, vars: Record<string, string>): void {
  const saved = new Map(SDK_ENV.map((k) => [k, process.env[k]]));
  for (const k of SDK_ENV) delete process.env[k];
  // Keep the developer's ~/.aws files out of the test.
  Object.assign(process.env, { AWS_CONFIG_FILE: '/nonexistent/config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials' }, vars);
  t.after(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

const expiration = (Math.floor(Date.now() / 1000) + 3600) * 1000;

async function imds(t: { after(fn: () => Promise<void>): void }) {
  const view = new SettableView(testCredentials(expiration));
  const listener = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler: createImdsHandler({ view, roleName: 'test-role' }) });
  t.after(() => listener.close(1000));
  return listener;
}

async function container(t: { after(fn: () => Promise<void>): void }, token: string) {
  const view = new SettableView(testCredentials(expiration));
  const handler = createContainerHandler({ view, path: '/credentials', token });
  const listener = await startListener({ name: 'container', host: '127.0.0.1', port: 0, handler });
  t.after(() => listener.close(1000));
  return listener;
}

test('JS v3 fromInstanceMetadata reads the IMDS endpoint (IMDSv2, endpoint printed with a trailing slash)', async (t) => {
  const listener = await imds(t);
  setEnv(t, { AWS_EC2_METADATA_SERVICE_ENDPOINT: listener.url.href, AWS_EC2_METADATA_V1_DISABLED: 'true' });
  const creds = await fromInstanceMetadata({ timeout: 2000, maxRetries: 0 })();
  assert.equal(creds.accessKeyId, 'ASIATESTACCESSKEY1');
  assert.equal(creds.secretAccessKey, 'test/secret+access/key1');
  assert.equal(creds.sessionToken, 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN1');
  assert.equal(creds.expiration?.getTime(), expiration);
});

test('JS v3 fromContainerMetadata reads the container endpoint with the token variable', async (t) => {
  const token = generateToken();
  const listener = await container(t, token);
  setEnv(t, {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: new URL('/credentials', listener.url).href,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
  });
  const creds = await fromContainerMetadata({ timeout: 2000, maxRetries: 0 })();
  assert.equal(creds.accessKeyId, 'ASIATESTACCESSKEY1');
  assert.equal(creds.sessionToken, 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN1');
  assert.equal(creds.expiration?.toISOString().replace('.000Z', 'Z'), isoSeconds(expiration));
  assert.equal(creds.accountId, '123456789012');
});

test('JS v3 fromContainerMetadata with a wrong token fails instead of getting credentials', async (t) => {
  const listener = await container(t, generateToken());
  setEnv(t, {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: new URL('/credentials', listener.url).href,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: generateToken(),
  });
  await assert.rejects(fromContainerMetadata({ timeout: 2000, maxRetries: 0 })());
});

interface V2Credentials {
  accessKeyId: string;
  sessionToken: string;
  expireTime: Date;
  getPromise(): Promise<void>;
}
type V2Ctor = new (options?: Record<string, unknown>) => V2Credentials;

async function loadV2(): Promise<{ EC2MetadataCredentials: V2Ctor; ECSCredentials: V2Ctor }> {
  // aws-sdk/global is the core without the service models (fast to load).
  const mod = (await import('aws-sdk/global.js')) as unknown as { default: { EC2MetadataCredentials: V2Ctor; ECSCredentials: V2Ctor } };
  return mod.default;
}

test('JS v2 EC2MetadataCredentials reads the IMDS endpoint through //latest/... paths', async (t) => {
  const listener = await imds(t);
  setEnv(t, { AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' });
  const AWS = await loadV2();
  // v2 resolves AWS_EC2_METADATA_SERVICE_ENDPOINT once at load; pass the same value directly.
  const creds = new AWS.EC2MetadataCredentials({ endpoint: listener.url.href, maxRetries: 0, httpOptions: { timeout: 2000 } });
  await creds.getPromise();
  assert.equal(creds.accessKeyId, 'ASIATESTACCESSKEY1');
  assert.equal(creds.sessionToken, 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN1');
  assert.equal(creds.expireTime.getTime(), expiration);
});

test('JS v2 ECSCredentials reads the container endpoint with the token file (no trailing newline)', async (t) => {
  const token = generateToken();
  const listener = await container(t, token);
  const dir = await mkdtemp(join(tmpdir(), 'ras-sdk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  await writeSecretFile(tokenFile, token);
  setEnv(t, {
    AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: new URL('/credentials', listener.url).href,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
  });
  const AWS = await loadV2();
  const creds = new AWS.ECSCredentials({ maxRetries: 0, httpOptions: { timeout: 2000 } });
  await creds.getPromise();
  assert.equal(creds.accessKeyId, 'ASIATESTACCESSKEY1');
  assert.equal(creds.expireTime.getTime(), expiration);
});
