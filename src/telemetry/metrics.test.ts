import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, register as globalRegistry } from 'prom-client';
import { createMetrics } from './metrics.js';

test('metrics live on the registry passed in, never the global one, and can be created twice', async () => {
  const a = createMetrics(new Registry());
  const b = createMetrics(new Registry(), { defaultMetrics: false });
  a.refreshFailures.inc({ code: 'TIMEOUT' });
  a.identityReloads.inc({ result: 'success' });
  a.createSessionDuration.observe({ outcome: 'success' }, 0.2);
  const textA = await a.registry.metrics();
  const textB = await b.registry.metrics();
  assert.match(textA, /^rolesanywhere_sidecar_refresh_failures_total\{code="TIMEOUT"\} 1$/m);
  assert.match(textA, /^rolesanywhere_sidecar_identity_reloads_total\{result="success"\} 1$/m);
  assert.match(textA, /^rolesanywhere_sidecar_create_session_duration_seconds_count\{outcome="success"\} 1$/m);
  assert.match(textA, /^process_cpu_seconds_total /m);
  assert.doesNotMatch(textB, /refresh_failures_total\{/);
  assert.doesNotMatch(textB, /process_cpu_seconds_total/);
  assert.equal((await globalRegistry.metrics()).includes('rolesanywhere_sidecar_'), false);
});

test('every sidecar metric carries the rolesanywhere_sidecar_ prefix', () => {
  const m = createMetrics(new Registry(), { defaultMetrics: false });
  const names = m.registry.getMetricsAsArray().map((x) => x.name);
  assert.equal(names.length, 12);
  for (const n of names) assert.match(n, /^rolesanywhere_sidecar_[a-z_]+$/);
});
