import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../core/clock.js';
import type { Credentials, CredentialSource } from '../core/credentials.js';
import { systemTimers, type Timers } from '../core/timers.js';
import { DiskCachedSource } from './disk-cache.js';

const HOUR = 3_600_000;

/** Real timers that wait 5 ms whatever is asked: the lock-wait loop runs quickly. */
const fastTimers: Timers = { setTimeout: (fn) => systemTimers.setTimeout(fn, 5), clearTimeout: (h) => systemTimers.clearTimeout(h) };

/** A real CredentialSource that issues distinct credentials per call and counts calls. */
class CountingSource implements CredentialSource {
  calls = 0;
  constructor(
    private readonly clock: ManualClock,
    private readonly lifeMs = HOUR,
  ) {}
  async getCredentials(): Promise<Credentials> {
    this.calls++;
    await new Promise((r) => setImmediate(r));
    return { accessKeyId: `ASIA${this.calls}`, secretAccessKey: `s${this.calls}`, sessionToken: `t${this.calls}`, expiration: this.clock.now() + this.lifeMs };
  }
}

function setup() {
  const dir = join(mkdtempSync(join(tmpdir(), 'ras-cache-')), 'cache');
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 12));
  const inner = new CountingSource(clock);
  const make = () => new DiskCachedSource({ inner, dir, keyParts: ['fp', 'role'], clock, timers: fastTimers });
  return { dir, clock, inner, make };
}

test('N invocations within the credentials life cause one CreateSession', async () => {
  const { clock, inner, make, dir } = setup();
  const first = await make().getCredentials();
  for (let i = 0; i < 20; i++) {
    clock.advance(60_000); // 20 minutes in all: 40 minutes left, above the reuse threshold
    assert.deepEqual(await make().getCredentials(), first);
  }
  assert.equal(inner.calls, 1);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 1);
  assert.equal(statSync(join(dir, files[0]!)).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test('credentials close to expiry are not reused', async () => {
  const { clock, inner, make } = setup();
  await make().getCredentials();
  clock.advance(41 * 60_000); // 19 minutes left: SDKs would re-invoke at once
  const second = await make().getCredentials();
  assert.equal(inner.calls, 2);
  assert.equal(second.accessKeyId, 'ASIA2');
});

test('a corrupt or unsafe entry is replaced, not trusted', async () => {
  const { inner, make, dir } = setup();
  const src = make();
  await src.getCredentials();
  writeFileSync(src.path, '{"v":1,"accessKeyId":', { mode: 0o600 });
  assert.equal((await make().getCredentials()).accessKeyId, 'ASIA2');
  chmodSync(src.path, 0o644);
  assert.equal((await make().getCredentials()).accessKeyId, 'ASIA3');
  assert.equal(inner.calls, 3);
  assert.ok(!readFileSync(src.path, 'utf8').includes('ASIA2'));
  void dir;
});

test('different identities or roles use different entries', async () => {
  const { clock, inner, dir } = setup();
  const a = new DiskCachedSource({ inner, dir, keyParts: ['fp', 'role-a'], clock });
  const b = new DiskCachedSource({ inner, dir, keyParts: ['fp', 'role-b'], clock });
  await a.getCredentials();
  await b.getCredentials();
  assert.equal(inner.calls, 2);
});

test('concurrent invocations coalesce through the lock', async () => {
  const { inner, make } = setup();
  const results = await Promise.all(Array.from({ length: 8 }, () => make().getCredentials()));
  assert.equal(inner.calls, 1);
  for (const r of results) assert.equal(r.accessKeyId, 'ASIA1');
});
