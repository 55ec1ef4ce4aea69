import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readinessOf } from './readiness.js';

const ok = { ready: true, consecutiveFailures: 0 };
const failing = { ready: false, consecutiveFailures: 3, lastErrorCode: 'SERVICE_ACCESS_DENIED', lastErrorMessage: 'the profile is disabled' };
const starting = { ready: false, consecutiveFailures: 0 };

test('ready only when every role is', () => {
  assert.deepEqual(readinessOf([]), { ready: true });
  assert.deepEqual(readinessOf([{ status: ok }, { name: 'role b', status: ok }]), { ready: true });
  assert.deepEqual(readinessOf([{ status: failing }]), {
    ready: false,
    reason: 'no fresh credentials (last error SERVICE_ACCESS_DENIED: the profile is disabled)',
  });
  assert.deepEqual(
    readinessOf([
      { name: 'role a', status: ok },
      { name: 'role b', status: starting },
      { name: 'role c', status: failing },
    ]),
    {
      ready: false,
      reason: 'role b: no credentials yet; role c: no fresh credentials (last error SERVICE_ACCESS_DENIED: the profile is disabled)',
    },
  );
});
