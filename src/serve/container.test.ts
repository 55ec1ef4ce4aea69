import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import { createContainerHandler } from './container.js';
import { startListener } from './listener.js';
import { SettableView, rawRequest, testCredentials } from '../../test/helpers/serve-support.js';

const T0 = Date.UTC(2026, 10, 22, 15, 4, 5);
const TOKEN = 'tok_3q2-7A1b9ZxY0wVvUu8TtSsRrQqPpOo';

async function start(t: { after(fn: () => Promise<void>): void }) {
  const clock = new ManualClock(T0);
  const view = new SettableView(testCredentials(T0 + 3600_000));
  const handler = createContainerHandler({ view, path: '/credentials', token: TOKEN, clock });
  const listener = await startListener({ name: 'container', host: '127.0.0.1', port: 0, handler });
  t.after(() => listener.close(1000));
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(listener.url, path, { method, headers });
  return { clock, view, listener, get };
}

function assertErrorShape(body: string, code: string): void {
  const b = JSON.parse(body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(b).sort(), ['Code', 'Message', 'code', 'message']);
  assert.equal(b.code, code);
  assert.equal(b.Code, code);
  assert.equal(b.message, b.Message);
  assert.ok(typeof b.message === 'string' && b.message.length > 0);
}

test('the right token gets the four required fields plus AccountId and RoleArn', async (t) => {
  const s = await start(t);
  const r = await s.get('/credentials', { authorization: TOKEN });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(r.body), {
    AccessKeyId: 'ASIATESTACCESSKEY1',
    SecretAccessKey: 'test/secret+access/key1',
    Token: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN1',
    Expiration: '2026-11-22T16:04:05Z',
    AccountId: '123456789012',
    RoleArn: 'arn:aws:iam::123456789012:role/test-role',
  });
  // Query strings and repeated slashes do not change the resource.
  assert.equal((await s.get('//credentials?x=1', { authorization: TOKEN })).status, 200);
});

test('optional fields are omitted when unknown', async (t) => {
  const s = await start(t);
  const { accountId: _a, roleArn: _r, ...bare } = testCredentials(T0 + 3600_000);
  s.view.set(bare);
  const r = await s.get('/credentials', { authorization: TOKEN });
  assert.deepEqual(Object.keys(JSON.parse(r.body) as object), ['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration']);
});

test('a missing token is 401 and a wrong one 403, both with code/message in both cases', async (t) => {
  const s = await start(t);
  const missing = await s.get('/credentials');
  assert.equal(missing.status, 401);
  assertErrorShape(missing.body, 'Unauthorized');
  for (const wrong of ['nope', `${TOKEN}x`, TOKEN.slice(0, -1), `Bearer ${TOKEN}`, TOKEN.toUpperCase()]) {
    const r = await s.get('/credentials', { authorization: wrong });
    assert.equal(r.status, 403, wrong);
    assertErrorShape(r.body, 'AccessDenied');
    assert.equal(r.body.includes('ASIATESTACCESSKEY'), false);
  }
});

test('other paths are 404, other methods 405', async (t) => {
  const s = await start(t);
  for (const path of ['/', '/credentials/', '/credentialsX', '/latest/meta-data/iam/security-credentials/']) {
    const r = await s.get(path, { authorization: TOKEN });
    assert.equal(r.status, 404, path);
    assertErrorShape(r.body, 'NotFound');
  }
  const post = await s.get('/credentials', { authorization: TOKEN }, 'POST');
  assert.equal(post.status, 405);
  assertErrorShape(post.body, 'MethodNotAllowed');
});

test('no servable credentials is 503 with the same error shape, and expired ones are never served', async (t) => {
  const s = await start(t);
  s.view.set(undefined);
  const none = await s.get('/credentials', { authorization: TOKEN });
  assert.equal(none.status, 503);
  assertErrorShape(none.body, 'CredentialsUnavailable');
  s.view.set(testCredentials(T0 + 1000));
  assert.equal((await s.get('/credentials', { authorization: TOKEN })).status, 200);
  s.clock.advance(1000);
  assert.equal((await s.get('/credentials', { authorization: TOKEN })).status, 503);
});

test('a new generation is served at once', async (t) => {
  const s = await start(t);
  await s.get('/credentials', { authorization: TOKEN });
  s.view.set(testCredentials(T0 + 7200_000, '2'));
  const r = JSON.parse((await s.get('/credentials', { authorization: TOKEN })).body) as { AccessKeyId: string };
  assert.equal(r.AccessKeyId, 'ASIATESTACCESSKEY2');
});

test('weak tokens and bad paths are refused at construction', () => {
  const view = new SettableView();
  assert.throws(() => createContainerHandler({ view, path: '/credentials', token: 'short' }), SidecarError);
  assert.throws(() => createContainerHandler({ view, path: '/credentials', token: `${TOKEN}\n` }), SidecarError);
  assert.throws(() => createContainerHandler({ view, path: 'credentials', token: TOKEN }), SidecarError);
  assert.throws(() => createContainerHandler({ view, path: '/a?b', token: TOKEN }), SidecarError);
  assert.throws(() => createContainerHandler({ view, path: '/', token: TOKEN }), SidecarError);
});
