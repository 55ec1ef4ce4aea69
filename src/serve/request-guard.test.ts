import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBrowser, checkHost, guardCredentialRequest, hostOf, normaliseAllowedHost } from './request-guard.js';

test('hostOf takes the host out of every Host header shape', () => {
  assert.equal(hostOf('127.0.0.1:9911'), '127.0.0.1');
  assert.equal(hostOf('127.0.0.1'), '127.0.0.1');
  assert.equal(hostOf('[::1]:9912'), '::1');
  assert.equal(hostOf('[::1]'), '::1');
  assert.equal(hostOf('LocalHost:80'), 'localhost');
  assert.equal(hostOf('localhost.'), 'localhost');
  assert.equal(hostOf('sidecar.internal:9912'), 'sidecar.internal');
  for (const bad of ['', ':80', '[::1', '[evil]:80', '[::1]x', 'a b', 'host:port', 'host:123456', 'ev/il', 'x'.repeat(300), 'a:1:2']) {
    assert.equal(hostOf(bad), undefined, bad);
  }
});

test('IP literals and localhost pass; other names only when allowed (DNS rebinding)', () => {
  for (const host of ['127.0.0.1:9911', '[::1]:9911', 'localhost:9912', '169.254.169.254', '10.1.2.3:80']) {
    assert.deepEqual(checkHost({ host }), { ok: true }, host);
  }
  const evil = checkHost({ host: 'evil.example:9911' });
  assert.equal(evil.ok, false);
  assert.match(evil.ok ? '' : evil.reason, /evil\.example.*--allowed-host/);
  assert.deepEqual(checkHost({ host: 'Sidecar.Internal:9911' }, { allowedHosts: ['sidecar.internal'] }), { ok: true });
  assert.equal(checkHost({ host: 'sidecar.internal.evil.example' }, { allowedHosts: ['sidecar.internal'] }).ok, false);
  assert.equal(checkHost({ host: 'localhost.evil.example' }).ok, false);
  assert.equal(checkHost({ host: '127.0.0.1.nip.io' }).ok, false);
  const malformed = checkHost({ host: 'a b' });
  assert.deepEqual(malformed, { ok: false, reason: 'malformed Host header' });
  // HTTP/1.0 without Host is no browser.
  assert.deepEqual(checkHost({}), { ok: true });
});

test('Origin and every Sec-Fetch-* header are refused, SDK headers pass', () => {
  assert.deepEqual(checkBrowser({ 'user-agent': 'aws-sdk-js/3', 'x-aws-ec2-metadata-token': 't' }), { ok: true });
  assert.match(JSON.stringify(checkBrowser({ origin: 'null' })), /Origin/);
  for (const h of ['sec-fetch-mode', 'sec-fetch-site', 'sec-fetch-dest', 'sec-fetch-user']) {
    const v = checkBrowser({ [h]: 'x' });
    assert.equal(v.ok, false);
    assert.match(v.ok ? '' : v.reason, new RegExp(h));
  }
});

test('the combined guard checks Host first, then the browser headers', () => {
  const v = guardCredentialRequest({ host: 'evil.example', origin: 'http://evil.example' });
  assert.match(v.ok ? '' : v.reason, /DNS rebinding/);
  const b = guardCredentialRequest({ host: '127.0.0.1', origin: 'http://evil.example' });
  assert.match(b.ok ? '' : b.reason, /Origin/);
  assert.deepEqual(guardCredentialRequest({ host: '127.0.0.1:1' }), { ok: true });
});

test('--allowed-host values are host names without port or scheme', () => {
  assert.equal(normaliseAllowedHost(' Sidecar.Local '), 'sidecar.local');
  for (const bad of ['http://x', 'x:80', '[::1]', '', 'a b']) assert.equal(normaliseAllowedHost(bad), undefined, bad);
});

test('hostOf refuses empty labels (found by the fuzz test)', () => {
  for (const v of ['..', '.', '.x', 'a..b', '..:80']) assert.equal(hostOf(v), undefined, v);
  assert.equal(hostOf('sidecar.internal.'), 'sidecar.internal');
  assert.equal(hostOf('x.:80'), 'x');
});
