import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ManualClock } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import { createMetrics } from '../telemetry/metrics.js';
import { createImdsHandler, type ImdsHandlerOptions } from './imds.js';
import { ImdsTokenStore } from './imds-tokens.js';
import { startListener, type Listener } from './listener.js';
import { SettableView, rawRequest, testCredentials } from '../../test/helpers/serve-support.js';

const T0 = Date.UTC(2026, 10, 22, 15, 4, 5, 250);
const CREDS = '/latest/meta-data/iam/security-credentials/';
const EXT = '/latest/meta-data/iam/security-credentials-extended/';
const TTL = 'x-aws-ec2-metadata-token-ttl-seconds';

interface Fixture {
  clock: ManualClock;
  view: SettableView;
  listener: Listener;
  tokens: ImdsTokenStore;
  token(ttl?: number, path?: string): Promise<string>;
  get(path: string, token?: string, headers?: Record<string, string>): ReturnType<typeof rawRequest>;
}

async function start(t: { after(fn: () => Promise<void>): void }, extra: Partial<ImdsHandlerOptions> = {}): Promise<Fixture> {
  const clock = new ManualClock(T0);
  const view = new SettableView(testCredentials(T0 + 3600_000));
  const tokens = new ImdsTokenStore({ clock });
  const handler = createImdsHandler({ view, roleName: 'test-role', tokens, clock, ...extra });
  const listener = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler });
  t.after(() => listener.close(1000));
  const base = listener.url;
  return {
    clock,
    view,
    listener,
    tokens,
    async token(ttl = 21600, path = '/latest/api/token') {
      const r = await rawRequest(base, path, { method: 'PUT', headers: { [TTL]: String(ttl) } });
      assert.equal(r.status, 200, r.body);
      return r.body;
    },
    get(path, token, headers = {}) {
      return rawRequest(base, path, { headers: token === undefined ? headers : { ...headers, 'x-aws-ec2-metadata-token': token } });
    },
  };
}

test('PUT /latest/api/token returns a printable token with no newline and echoes the TTL header', async (t) => {
  const f = await start(t);
  for (const ttl of ['21600', '300', '1']) {
    const r = await rawRequest(f.listener.url, '/latest/api/token', { method: 'PUT', headers: { [TTL]: ttl } });
    assert.equal(r.status, 200);
    assert.match(r.body, /^[\x21-\x7e]{32,}$/);
    assert.equal(r.headers[TTL], ttl);
  }
});

test('token TTL outside 1..21600, missing or not a plain integer is 400', async (t) => {
  const f = await start(t);
  for (const ttl of ['0', '21601', '-1', 'abc', '', '1.5', '+5', '0x10', '05', '999999999999']) {
    const r = await rawRequest(f.listener.url, '/latest/api/token', { method: 'PUT', headers: { [TTL]: ttl } });
    assert.equal(r.status, 400, `ttl ${JSON.stringify(ttl)}`);
  }
  const missing = await rawRequest(f.listener.url, '/latest/api/token', { method: 'PUT' });
  assert.equal(missing.status, 400);
  assert.equal(f.tokens.size, 0);
});

test('a token request carrying X-Forwarded-For (or a browser Origin) is refused with 403', async (t) => {
  const f = await start(t);
  const xff = await rawRequest(f.listener.url, '/latest/api/token', {
    method: 'PUT',
    headers: { [TTL]: '21600', 'x-forwarded-for': '10.0.0.1' },
  });
  assert.equal(xff.status, 403);
  const origin = await rawRequest(f.listener.url, '/latest/api/token', {
    method: 'PUT',
    headers: { [TTL]: '21600', origin: 'http://evil.example' },
  });
  assert.equal(origin.status, 403);
  assert.equal(f.tokens.size, 0);
});

test('the token path answers only PUT (405 otherwise)', async (t) => {
  const f = await start(t);
  const r = await rawRequest(f.listener.url, '/latest/api/token', { headers: { [TTL]: '21600' } });
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'PUT');
});

test('GETs without a token, or with an unknown one, are 401', async (t) => {
  const f = await start(t);
  assert.equal((await f.get(CREDS)).status, 401);
  assert.equal((await f.get(`${CREDS}test-role`)).status, 401);
  assert.equal((await f.get(`${EXT}test-role`)).status, 401);
  assert.equal((await f.get(CREDS, 'not-a-token')).status, 401);
  assert.equal((await f.get(CREDS, 'x'.repeat(1000))).status, 401);
});

test('the role listing answers the role name with no newline, with or without the trailing slash', async (t) => {
  const f = await start(t);
  const token = await f.token();
  for (const path of [CREDS, CREDS.slice(0, -1), EXT, EXT.slice(0, -1)]) {
    const r = await f.get(path, token);
    assert.equal(r.status, 200, path);
    assert.equal(r.body, 'test-role');
  }
});

test('the credentials document has exactly the fields SDKs read, times as whole-second Z', async (t) => {
  const f = await start(t);
  const token = await f.token();
  const r = await f.get(`${CREDS}test-role`, token);
  assert.equal(r.status, 200);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.deepEqual(JSON.parse(r.body), {
    Code: 'Success',
    LastUpdated: '2026-11-22T15:04:05Z',
    Type: 'AWS-HMAC',
    AccessKeyId: 'ASIATESTACCESSKEY1',
    SecretAccessKey: 'test/secret+access/key1',
    Token: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN1',
    Expiration: '2026-11-22T16:04:05Z',
  });
  // Key order matters to nobody, but Code first mirrors EC2 and keeps the body diffable.
  assert.ok(r.body.startsWith('{"Code":"Success","LastUpdated":'));
});

test('the extended path adds AccountId; unknown roles are 404 on both paths', async (t) => {
  const f = await start(t);
  const token = await f.token();
  const ext = await f.get(`${EXT}test-role`, token);
  assert.equal(ext.status, 200);
  const body = JSON.parse(ext.body) as Record<string, unknown>;
  assert.equal(body.AccountId, '123456789012');
  assert.equal(body.Code, 'Success');
  assert.equal(body.Token, 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN1');
  assert.equal((await f.get(`${CREDS}other-role`, token)).status, 404);
  assert.equal((await f.get(`${EXT}other-role`, token)).status, 404);
});

test('AccountId comes from the option when the credentials carry none, and is absent when unknown', async (t) => {
  const withOption = await start(t, { accountId: '210987654321' });
  const { accountId: _a, ...noAccount } = testCredentials(T0 + 3600_000);
  withOption.view.set(noAccount);
  const tok = await withOption.token();
  assert.equal((JSON.parse((await withOption.get(`${EXT}test-role`, tok)).body) as { AccountId?: string }).AccountId, '210987654321');

  const without = await start(t);
  without.view.set(noAccount);
  const tok2 = await without.token();
  const body = JSON.parse((await without.get(`${EXT}test-role`, tok2)).body) as Record<string, unknown>;
  assert.equal('AccountId' in body, false);
  assert.equal(body.Code, 'Success');
});

test('paths with repeated slashes are treated as single-slash paths', async (t) => {
  const f = await start(t);
  const token = await f.token(21600, '//latest/api/token');
  const r = await f.get('//latest//meta-data/iam/security-credentials//test-role', token);
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { AccessKeyId: string }).AccessKeyId, 'ASIATESTACCESSKEY1');
  assert.equal((await f.get('//latest/meta-data/iam/security-credentials/', token)).body, 'test-role');
  // A query string does not change the resource.
  assert.equal((await f.get(`${CREDS}test-role?x=1`, token)).status, 200);
});

test('every other path is 404 and other methods on metadata paths are 405', async (t) => {
  const f = await start(t);
  const token = await f.token();
  for (const path of [
    '/',
    '/latest/meta-data/',
    '/latest/meta-data/instance-id',
    '/latest/meta-data/placement/region',
    '/latest/meta-data/iam/info',
    `${CREDS}test-role/extra`,
    '/latest/meta-data/iam/security-credentialsX',
    '/latest/api/token/',
  ]) {
    assert.equal((await f.get(path, token)).status, 404, path);
  }
  const post = await rawRequest(f.listener.url, `${CREDS}test-role`, { method: 'POST', headers: { 'x-aws-ec2-metadata-token': token } });
  assert.equal(post.status, 405);
  const del = await rawRequest(f.listener.url, CREDS, { method: 'DELETE', headers: { 'x-aws-ec2-metadata-token': token } });
  assert.equal(del.status, 405);
});

test('a token stays valid for its whole TTL and is refused (401) once it expires', async (t) => {
  const f = await start(t);
  const token = await f.token(300);
  f.clock.advance(299_999);
  // Keep credentials servable at the moved clock.
  f.view.set(testCredentials(f.clock.now() + 3600_000));
  assert.equal((await f.get(`${CREDS}test-role`, token)).status, 200);
  f.clock.advance(1);
  assert.equal((await f.get(`${CREDS}test-role`, token)).status, 401);
  assert.equal((await f.get(CREDS, token)).status, 401);
});

test('with no servable credentials: 503 with a JSON reason on the classic path, 404 on the extended path', async (t) => {
  const f = await start(t);
  f.view.set(undefined);
  const token = await f.token();
  // The listing is configuration, still answered.
  assert.equal((await f.get(CREDS, token)).body, 'test-role');
  const r = await f.get(`${CREDS}test-role`, token);
  assert.equal(r.status, 503);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const body = JSON.parse(r.body) as { Code: string; Message: string };
  assert.equal(body.Code, 'CredentialsUnavailable');
  assert.ok(body.Message.length > 0);
  assert.equal((await f.get(`${EXT}test-role`, token)).status, 404);
});

test('never serves expired or empty credentials even if the view offers them', async (t) => {
  const f = await start(t);
  const token = await f.token();
  f.view.set(testCredentials(T0 + 1000));
  assert.equal((await f.get(`${CREDS}test-role`, token)).status, 200);
  // Same generation, time moves past the expiry: the cached body must not be served.
  f.clock.advance(1000);
  assert.equal((await f.get(`${CREDS}test-role`, token)).status, 503);
  f.view.set({ ...testCredentials(T0 + 3600_000), sessionToken: '' });
  assert.equal((await f.get(`${CREDS}test-role`, token)).status, 503);
});

test('a new credentials generation is served at once', async (t) => {
  const f = await start(t);
  const token = await f.token();
  const first = JSON.parse((await f.get(`${CREDS}test-role`, token)).body) as { AccessKeyId: string; LastUpdated: string };
  f.clock.advance(60_000);
  f.view.set(testCredentials(T0 + 7200_000, '2'));
  const second = JSON.parse((await f.get(`${CREDS}test-role`, token)).body) as { AccessKeyId: string; LastUpdated: string; Expiration: string };
  assert.equal(first.AccessKeyId, 'ASIATESTACCESSKEY1');
  assert.equal(second.AccessKeyId, 'ASIATESTACCESSKEY2');
  assert.equal(second.LastUpdated, '2026-11-22T15:05:05Z');
  assert.equal(second.Expiration, '2026-11-22T17:04:05Z');
});

test('IMDSv1 (no token) is answered only when enabled; a bad token is still 401 and browsers are refused', async (t) => {
  const v1 = await start(t, { allowV1: true });
  const r = await v1.get(`${CREDS}test-role`);
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { Code: string }).Code, 'Success');
  assert.equal((await v1.get(CREDS)).body, 'test-role');
  assert.equal((await v1.get(`${CREDS}test-role`, 'bogus')).status, 401);
  assert.equal((await v1.get(`${CREDS}test-role`, undefined, { 'sec-fetch-mode': 'cors' })).status, 403);
  const v2 = await start(t);
  assert.equal((await v2.get(`${CREDS}test-role`)).status, 401);
});

test('percent-encoded role names match', async (t) => {
  const f = await start(t, { roleName: 'team+ops@x' });
  const token = await f.token();
  assert.equal((await f.get('/latest/meta-data/iam/security-credentials/team%2Bops%40x', token)).status, 200);
  assert.equal((await f.get('/latest/meta-data/iam/security-credentials/team+ops@x', token)).status, 200);
  assert.equal((await f.get('/latest/meta-data/iam/security-credentials/%E0%A4%A', token)).status, 404);
});

test('the live-token gauge follows the store', async (t) => {
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  const f = await start(t, { metrics });
  await f.token();
  await f.token();
  const text = await registry.metrics();
  assert.match(text, /^rolesanywhere_sidecar_imds_tokens 2$/m);
});

test('role names that cannot be served are refused at construction', () => {
  const view = new SettableView();
  const tokens = new ImdsTokenStore();
  assert.throws(() => createImdsHandler({ view, tokens, roleName: '' }), SidecarError);
  assert.throws(() => createImdsHandler({ view, tokens, roleName: 'a/b' }), SidecarError);
});
