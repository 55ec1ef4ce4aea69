import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { SidecarError } from '../core/errors.js';
import { MAX_CA_BUNDLE_BYTES, parseCaBundle } from '../identity/ca-bundle.js';
import { createDispatcher, describeProxyUrl, type SessionDispatcher } from './http.js';
import { makeTestTls, startServer, type TestServer } from '../../test/helpers/session-support.js';

const pki = await makeTestTls();

/** A minimal CONNECT proxy on 127.0.0.1:0 that records the targets it tunnels to. */
async function startConnectProxy(t: TestContext): Promise<{ url: string; targets: string[] }> {
  const targets: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    sockets.add(client);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets };
}

async function target(t: TestContext, tls?: boolean): Promise<TestServer> {
  const s = await startServer(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
    tls ? { cert: pki.serverCertPem, key: pki.serverKeyPem } : undefined,
  );
  t.after(() => s.close());
  return s;
}

async function get(t: TestContext, d: SessionDispatcher, origin: string): Promise<string> {
  t.after(() => d.close());
  const res = await d.request({ origin, path: '/', method: 'GET', headers: {} });
  let text = '';
  for await (const chunk of res.body) text += (chunk as Buffer).toString('utf8');
  return text;
}

test('parseCaBundle accepts a PEM bundle and splits it into certificates', () => {
  const blocks = parseCaBundle(Buffer.from(`# comment\n${pki.caPem}\n${pki.serverCertPem}`));
  assert.equal(blocks.length, 2);
  assert.ok(blocks[0]!.toString().startsWith('-----BEGIN CERTIFICATE-----'));
});

test('createDispatcher refuses an empty, damaged or oversized CA bundle, naming AWS_CA_BUNDLE', () => {
  const code = (c: string) => (e: unknown) => e instanceof SidecarError && e.code === c && e.message.includes('AWS_CA_BUNDLE');
  const withBundle = (pem: Buffer) => () => createDispatcher({ caBundlePem: pem });
  assert.throws(withBundle(Buffer.from('not a pem')), code('PEM_INVALID'));
  assert.throws(withBundle(Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')), code('PEM_INVALID'));
  assert.throws(withBundle(Buffer.alloc(MAX_CA_BUNDLE_BYTES + 1, 0x41)), code('INPUT_TOO_LARGE'));
});

test('createDispatcher refuses proxy URLs that are not http(s), without echoing them', () => {
  assert.throws(
    () => createDispatcher({ proxy: { httpsProxy: 'socks5://user:pw@proxy:1080' } }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID' && !e.message.includes('pw'),
  );
  assert.throws(
    () => createDispatcher({ proxy: { httpProxy: 'not a url with secret' } }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID' && !e.message.includes('secret'),
  );
});

test('describeProxyUrl leaves out user and password', () => {
  assert.equal(describeProxyUrl('http://alice:s3cret@proxy.corp:3128'), 'http://proxy.corp:3128');
  assert.equal(describeProxyUrl('::'), '<invalid proxy URL>');
});

test('an explicit proxy tunnels requests; NO_PROXY bypasses it', async (t) => {
  const proxy = await startConnectProxy(t);
  const srv = await target(t);
  assert.equal(await get(t, createDispatcher({ proxy: { httpProxy: proxy.url } }), srv.origin), 'ok');
  assert.deepEqual(proxy.targets, [srv.host]);
  assert.equal(await get(t, createDispatcher({ proxy: { httpProxy: proxy.url, noProxy: '127.0.0.1' } }), srv.origin), 'ok');
  assert.deepEqual(proxy.targets, [srv.host], 'the NO_PROXY host went direct');
});

test('HTTPS through the proxy verifies the endpoint with the added CA', async (t) => {
  const proxy = await startConnectProxy(t);
  const srv = await target(t, true);
  const d = createDispatcher({ proxy: { httpsProxy: proxy.url }, caBundlePem: Buffer.from(pki.caPem) });
  assert.equal(await get(t, d, srv.origin), 'ok');
  assert.deepEqual(proxy.targets, [srv.host]);
  const untrusted = createDispatcher({ proxy: { httpsProxy: proxy.url } });
  t.after(() => untrusted.close());
  await assert.rejects(untrusted.request({ origin: srv.origin, path: '/', method: 'GET', headers: {} }), (e: unknown) =>
    /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i.test(`${(e as { code?: string }).code} ${(e as Error).message}`),
  );
});

test('the process environment is never consulted', async (t) => {
  const saved = { ...process.env };
  t.after(() => {
    for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const proxy = await startConnectProxy(t);
  const srv = await target(t);
  // A bogus proxy in the environment must not be used when none is configured...
  process.env.HTTP_PROXY = 'http://127.0.0.1:1';
  process.env.http_proxy = 'http://127.0.0.1:1';
  assert.equal(await get(t, createDispatcher(), srv.origin), 'ok');
  // ...and an environment NO_PROXY must not override the configured (empty) one.
  process.env.NO_PROXY = '127.0.0.1';
  process.env.no_proxy = '127.0.0.1';
  assert.equal(await get(t, createDispatcher({ proxy: { httpProxy: proxy.url } }), srv.origin), 'ok');
  assert.deepEqual(proxy.targets, [srv.host]);
});

test('TLS 1.1 servers are refused (TLS 1.2 minimum)', async (t) => {
  const https = await import('node:https');
  const server = https.createServer(
    { cert: pki.serverCertPem, key: pki.serverKeyPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
    (_q, r) => r.end('ok'),
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const d = createDispatcher({ caBundlePem: Buffer.from(pki.caPem) });
  t.after(() => d.close());
  await assert.rejects(d.request({ origin, path: '/', method: 'GET', headers: {} }), (e: unknown) => {
    const code = String((e as { code?: string }).code);
    return code.startsWith('ERR_SSL_') || /protocol|version/i.test((e as Error).message);
  });
});

test('a direct connection: kept alive across requests, the body sent with its length, HTTPS with the added CA', async (t) => {
  const sockets = new Set<unknown>();
  const bodies: string[] = [];
  const s = await startServer(
    (req, res) => {
      sockets.add(res.socket);
      bodies.push(`${req.headers['content-length']}:${req.body}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
    { cert: pki.serverCertPem, key: pki.serverKeyPem },
  );
  t.after(() => s.close());
  const d = createDispatcher({ caBundlePem: Buffer.from(pki.caPem) });
  t.after(() => d.close());
  for (let i = 0; i < 3; i++) {
    const res = await d.request({ origin: s.origin, path: '/x', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":"é"}' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/plain');
    let text = '';
    for await (const c of res.body) text += (c as Buffer).toString('utf8');
    assert.equal(text, 'ok');
  }
  assert.equal(sockets.size, 1, 'one connection for three requests');
  assert.deepEqual(bodies, ['10:{"a":"é"}', '10:{"a":"é"}', '10:{"a":"é"}']);
});

test('a direct connection: a body that stalls fails with the body timeout; an abort with its reason', async (t) => {
  const s = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
    res.write('partial');
  });
  t.after(() => s.close());
  const d = createDispatcher({ bodyTimeoutMs: 150 });
  t.after(() => d.close());
  const res = await d.request({ origin: s.origin, path: '/', method: 'GET', headers: {} });
  await assert.rejects(
    (async () => {
      for await (const _ of res.body) void _;
    })(),
    (e: unknown) => (e as { code?: string }).code === 'SESSION_BODY_TIMEOUT',
  );

  const ac = new AbortController();
  const pending = d.request({ origin: s.origin, path: '/', method: 'GET', headers: {}, signal: ac.signal });
  const r2 = await pending;
  const reason = new Error('shutting down');
  ac.abort(reason);
  await assert.rejects(
    (async () => {
      for await (const _ of r2.body) void _;
    })(),
    (e: unknown) => e === reason,
  );
  const already = new AbortController();
  already.abort(reason);
  await assert.rejects(d.request({ origin: s.origin, path: '/', method: 'GET', headers: {}, signal: already.signal }), (e: unknown) => e === reason);
});

test('a direct connection: close() waits for the request in flight, then refuses new ones', async (t) => {
  const s = await startServer((_req, res) => setTimeout(() => res.end('late'), 100));
  t.after(() => s.close());
  const d = createDispatcher();
  const res = d.request({ origin: s.origin, path: '/', method: 'GET', headers: {} });
  const closed = d.close();
  const r = await res;
  let text = '';
  for await (const c of r.body) text += (c as Buffer).toString('utf8');
  assert.equal(text, 'late');
  await closed;
  await assert.rejects(d.request({ origin: s.origin, path: '/', method: 'GET', headers: {} }), /closed/);
});
