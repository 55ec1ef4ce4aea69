import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { SidecarError } from '../core/errors.js';
import { createLogger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import { isLoopbackHost, startListener } from './listener.js';
import { rawRequest } from '../../test/helpers/serve-support.js';
import type { RequestHandler } from './http-util.js';

const okHandler: RequestHandler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello');
};

test('loopback detection', () => {
  for (const h of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '169.254.169.254', 'example.com', '::ffff:10.0.0.1', '']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('a non-loopback address is refused unless --allow-non-loopback', async () => {
  await assert.rejects(
    startListener({ name: 'imds', host: '0.0.0.0', port: 0, handler: okHandler }),
    (e: unknown) =>
      e instanceof SidecarError && e.code === 'ADDRESS_NOT_ALLOWED' && e.message.includes('--allow-non-loopback') && e.message.includes('0.0.0.0'),
  );
  await assert.rejects(
    startListener({ name: 'ops', host: 'example.com', port: 0, handler: okHandler }),
    (e: unknown) => e instanceof SidecarError && e.code === 'ADDRESS_NOT_ALLOWED',
  );
});

test('allowNonLoopback lifts the loopback rule (an address not on this host then fails to bind)', async () => {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a host, so nothing is exposed.
  await assert.rejects(
    startListener({ name: 'ops', host: '192.0.2.1', port: 0, handler: okHandler, allowNonLoopback: true }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID' && e.message.includes('--ops-address'),
  );
});

test('invalid ports are a configuration error naming the flag', async () => {
  for (const port of [-1, 65536, 1.5]) {
    await assert.rejects(
      startListener({ name: 'container', host: '127.0.0.1', port, handler: okHandler }),
      (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID' && e.message.includes('--container-port'),
    );
  }
});

test('a port in use is ADDRESS_IN_USE naming the address and the flag to change', async (t) => {
  const first = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler: okHandler });
  t.after(() => first.close(1000));
  await assert.rejects(
    startListener({ name: 'container', host: '127.0.0.1', port: first.port, handler: okHandler }),
    (e: unknown) =>
      e instanceof SidecarError && e.code === 'ADDRESS_IN_USE' && e.message.includes(`127.0.0.1:${first.port}`) && e.message.includes('--container-port'),
  );
});

test('port 0 picks a free port and the URL ends with a slash', async (t) => {
  const l = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler: okHandler });
  t.after(() => l.close(1000));
  assert.ok(l.port > 0);
  assert.equal(l.url.href, `http://127.0.0.1:${l.port}/`);
  assert.equal((await rawRequest(l.url, '/')).body, 'hello');
});

test('IPv6 loopback ::1 works and the URL brackets the host', async (t) => {
  let l;
  try {
    l = await startListener({ name: 'imds', host: '::1', port: 0, handler: okHandler });
  } catch (e) {
    if (e instanceof SidecarError && e.code === 'CONFIG_INVALID') return t.skip('no IPv6 loopback on this machine');
    throw e;
  }
  const listener = l;
  t.after(() => listener.close(1000));
  assert.equal(listener.host, '::1');
  assert.equal(listener.url.href, `http://[::1]:${listener.port}/`);
  assert.equal((await rawRequest(listener.url, '/')).body, 'hello');
});

test('a handler that throws yields 500, logs no secrets, and the server keeps serving', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ stream, level: 'debug' });
  const handler: RequestHandler = (req, res) => {
    if (req.url?.startsWith('/boom') === true) throw new Error('kaput');
    okHandler(req, res);
  };
  const l = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler, logger });
  t.after(() => l.close(1000));
  const r = await rawRequest(l.url, '/boom?secret=abc', { headers: { 'x-aws-ec2-metadata-token': 'TOKENVALUE123' } });
  assert.equal(r.status, 500);
  assert.equal((await rawRequest(l.url, '/')).body, 'hello');
  const log = lines.join('');
  assert.match(log, /request handler failed/);
  assert.match(log, /kaput/);
  assert.equal(log.includes('TOKENVALUE123'), false);
  assert.equal(log.includes('secret=abc'), false);
});

test('request bodies over the limit get 413 (declared length and chunked)', async (t) => {
  const l = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler: okHandler, limits: { maxBodyBytes: 16 } });
  t.after(() => l.close(1000));
  const big = await rawRequest(l.url, '/', { method: 'PUT', body: 'x'.repeat(100) });
  assert.equal(big.status, 413);
  const small = await rawRequest(l.url, '/', { method: 'PUT', body: 'x'.repeat(10) });
  assert.equal(small.status, 200);
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: l.port, method: 'POST', path: '/', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write('y'.repeat(10));
    req.end('y'.repeat(10));
  });
  assert.equal(chunked, 413);
});

test('oversized headers are refused by the server (431)', async (t) => {
  const l = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler: okHandler });
  t.after(() => l.close(1000));
  const r = await rawRequest(l.url, '/', { headers: { 'x-big': 'z'.repeat(10_000) } });
  assert.equal(r.status, 431);
});

test('responses are counted per endpoint and status', async (t) => {
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  const handler: RequestHandler = (req, res) => {
    res.writeHead(req.url === '/missing' ? 404 : 200);
    res.end();
  };
  const l = await startListener({ name: 'container', host: '127.0.0.1', port: 0, handler, metrics });
  t.after(() => l.close(1000));
  await rawRequest(l.url, '/');
  await rawRequest(l.url, '/');
  await rawRequest(l.url, '/missing');
  const text = await registry.metrics();
  assert.match(text, /^rolesanywhere_sidecar_http_requests_total\{endpoint="container",status="200"\} 2$/m);
  assert.match(text, /^rolesanywhere_sidecar_http_requests_total\{endpoint="container",status="404"\} 1$/m);
});

test('close() stops accepting, lets an in-flight request finish, and closes keep-alive connections', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const arrivedP = new Promise<void>((r) => (arrived = r));
  const handler: RequestHandler = (req, res) => {
    if (req.url === '/slow') {
      arrived();
      void released.then(() => {
        res.writeHead(200);
        res.end('finished');
      });
      return;
    }
    okHandler(req, res);
  };
  const l = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler });
  const agent = new Agent({ keepAlive: true });
  try {
    // An idle keep-alive connection, which close() must not wait for.
    const idle = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: l.port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(idle, 200);
    const slow = new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: l.port, path: '/slow', agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      })
        .on('error', reject)
        .end();
    });
    await arrivedP;
    let closed = false;
    const closing = l.close(10_000).then(() => (closed = true));
    // New connections are refused while the slow request is still running.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect(l.port, '127.0.0.1');
        s.on('connect', () => {
          s.destroy();
          resolve(undefined);
        });
        s.on('error', reject);
      }),
      /ECONNREFUSED/,
    );
    assert.equal(closed, false);
    release();
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'finished');
    await closing;
    assert.equal(closed, true);
  } finally {
    agent.destroy();
  }
});

test('close() force-closes a request that outlives the grace period', async () => {
  let arrived!: () => void;
  const arrivedP = new Promise<void>((r) => (arrived = r));
  const handler: RequestHandler = () => arrived(); // never answers
  const l = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler });
  const hung = rawRequest(l.url, '/hang').then(
    () => 'answered',
    () => 'reset',
  );
  await arrivedP;
  await l.close(50);
  assert.equal(await hung, 'reset');
  // Idempotent.
  await l.close();
});

test('after its request cap a connection is closed, never left open answering 503', async (t) => {
  const listener = await startListener({ name: 'imds', host: '127.0.0.1', port: 0, handler: okHandler, limits: { maxRequestsPerSocket: 3 } });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(async () => {
    agent.destroy();
    await listener.close(0);
  });
  const seen: Array<{ status: number; connection: string | undefined; port: number }> = [];
  for (let i = 0; i < 7; i++) {
    seen.push(
      await new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: listener.port, path: '/', agent }, (res) => {
          // Read the port now: once the response ends, a closing socket is detached.
          const port = res.socket.localPort ?? 0;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, port }));
        });
        req.on('error', reject);
        req.end();
      }),
    );
  }
  assert.deepEqual(
    seen.map((s) => s.status),
    [200, 200, 200, 200, 200, 200, 200],
  );
  // Every third answer says close, and the next request arrives on a new connection.
  assert.deepEqual(
    seen.map((s) => s.connection),
    ['keep-alive', 'keep-alive', 'close', 'keep-alive', 'keep-alive', 'close', 'keep-alive'],
  );
  assert.equal(new Set(seen.map((s) => s.port)).size, 3);
});
