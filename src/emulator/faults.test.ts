import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Faults, parseFaultSpec } from './faults.js';

test('parses the CLI --fault syntax', () => {
  assert.deepEqual(parseFaultSpec('2*503,429:retry-after=1,drop,delay=250,empty-set'), {
    script: [
      { status: 503 },
      { status: 503 },
      { status: 429, retryAfterSeconds: 1 },
      { drop: true },
      { delayMs: 250 },
      { status: 201, body: '{"credentialSet":[]}' },
    ],
  });
  assert.deepEqual(parseFaultSpec('outage'), { outage: true });
  assert.deepEqual(parseFaultSpec('throttle=2.5, 500'), { script: [{ status: 500 }], throttlePerSecond: 2.5 });
  assert.throws(() => parseFaultSpec('teapot'), /--fault step "teapot": is not one of/);
  assert.throws(() => parseFaultSpec('999'), /status must be an HTTP status/);
  assert.throws(() => parseFaultSpec('3*outage'), /persistent/);
  assert.throws(() => parseFaultSpec('throttle=0'), /positive/);
});

test('queued faults come first, then outage, then throttling', () => {
  const f = new Faults({ script: [{ status: 500 }], outage: true });
  const first = f.decide(0);
  assert.equal(first.action, 'respond');
  assert.equal(first.action === 'respond' && first.status, 500);
  const second = f.decide(0);
  assert.equal(second.action === 'respond' && second.status, 503);
  f.setOutage(false);
  assert.deepEqual(f.decide(0), { action: 'pass', delayMs: 0 });
});

test('the throttle is a token bucket over the given clock', () => {
  const f = new Faults({ throttlePerSecond: 2 });
  assert.equal(f.decide(1000).action, 'pass');
  assert.equal(f.decide(1000).action, 'pass');
  const limited = f.decide(1000);
  assert.equal(limited.action, 'respond');
  assert.equal(limited.action === 'respond' && limited.headers['retry-after'], '1');
  assert.equal(f.decide(1500).action, 'pass');
  assert.equal(f.decide(1500).action, 'respond');
  f.clear();
  assert.deepEqual(f.state(), { pending: 0, outage: false, throttlePerSecond: null });
  assert.equal(f.decide(1500).action, 'pass');
});
