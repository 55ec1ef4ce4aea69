import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createMetrics } from '../telemetry/metrics.js';
import { startListener } from './listener.js';
import { createOpsHandler } from './ops.js';
import { rawRequest } from '../../test/helpers/serve-support.js';

async function start(t: { after(fn: () => Promise<void>): void }) {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const state: { ready: boolean; reason?: string } = { ready: false, reason: 'no credentials yet: CreateSession failed (SERVICE_ACCESS_DENIED)' };
  const handler = createOpsHandler({ readiness: () => state, registry });
  const listener = await startListener({ name: 'ops', host: '127.0.0.1', port: 0, handler, metrics });
  t.after(() => listener.close(1000));
  return { state, metrics, listener, get: (path: string, method = 'GET') => rawRequest(listener.url, path, { method }) };
}

test('/healthz is 200 ok', async (t) => {
  const s = await start(t);
  const r = await s.get('/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok');
});

test('/readyz is 503 with the reason until ready, then 200', async (t) => {
  const s = await start(t);
  const notReady = await s.get('/readyz');
  assert.equal(notReady.status, 503);
  assert.deepEqual(JSON.parse(notReady.body), { status: 'not ready', reason: 'no credentials yet: CreateSession failed (SERVICE_ACCESS_DENIED)' });
  s.state.ready = true;
  const ready = await s.get('/readyz');
  assert.equal(ready.status, 200);
  assert.deepEqual(JSON.parse(ready.body), { status: 'ready' });
});

test('/metrics exposes the sidecar and process metrics in Prometheus text format', async (t) => {
  const s = await start(t);
  s.metrics.ready.set(1);
  s.metrics.credentialsExpiry.set(1_800_000_000);
  s.metrics.createSessionCalls.inc({ outcome: 'failure', code: 'SERVICE_THROTTLED' });
  await s.get('/healthz');
  const r = await s.get('/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  for (const name of [
    'rolesanywhere_sidecar_credentials_expiry_timestamp_seconds',
    'rolesanywhere_sidecar_certificate_not_after_timestamp_seconds',
    'rolesanywhere_sidecar_create_session_calls_total',
    'rolesanywhere_sidecar_create_session_duration_seconds',
    'rolesanywhere_sidecar_refresh_failures_total',
    'rolesanywhere_sidecar_identity_reloads_total',
    'rolesanywhere_sidecar_http_requests_total',
    'rolesanywhere_sidecar_imds_tokens',
    'rolesanywhere_sidecar_ready',
    'process_cpu_seconds_total',
    'nodejs_heap_size_used_bytes',
  ]) {
    assert.match(r.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(r.body, /^rolesanywhere_sidecar_ready 1$/m);
  assert.match(r.body, /^rolesanywhere_sidecar_credentials_expiry_timestamp_seconds 1800000000$/m);
  assert.match(r.body, /^rolesanywhere_sidecar_create_session_calls_total\{outcome="failure",code="SERVICE_THROTTLED"\} 1$/m);
  assert.match(r.body, /^rolesanywhere_sidecar_http_requests_total\{endpoint="ops",status="200"\} 1$/m);
});

test('other paths are 404 and other methods 405', async (t) => {
  const s = await start(t);
  assert.equal((await s.get('/')).status, 404);
  assert.equal((await s.get('/metrics/x')).status, 404);
  assert.equal((await s.get('/healthz', 'POST')).status, 405);
});
