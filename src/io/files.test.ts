import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from './atomic-file.js';

test('writes with mode 0600 and leaves no temp file behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ras-atomic-'));
  const p = join(dir, 'credentials');
  await writeFileAtomic(p, 'a');
  await writeFileAtomic(p, 'bb');
  assert.equal(readFileSync(p, 'utf8'), 'bb');
  assert.equal(statSync(p).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['credentials']);
});

test('a concurrent reader only ever sees a whole old or whole new file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ras-atomic-'));
  const p = join(dir, 'credentials');
  // Large enough that a non-atomic write would be observed half-done.
  const a = `[default]\n${'a'.repeat(256 * 1024)}\n`;
  const b = `[default]\n${'b'.repeat(300 * 1024)}\n`;
  await writeFileAtomic(p, a);
  // The reader runs on another thread so it interleaves with the writes for real.
  const flag = new SharedArrayBuffer(4);
  const reader = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const fs = require('node:fs');
     let reads = 0, bad = 0; const stop = new Int32Array(workerData.flag);
     while (Atomics.load(stop, 0) === 0) {
       const s = fs.readFileSync(workerData.path, 'utf8'); reads++;
       if (s !== workerData.a && s !== workerData.b) bad++;
     }
     parentPort.postMessage({ reads, bad });`,
    { eval: true, workerData: { path: p, a, b, flag } },
  );
  const result = new Promise<{ reads: number; bad: number }>((resolve, reject) => {
    reader.once('message', resolve);
    reader.once('error', reject);
  });
  for (let i = 0; i < 200; i++) await writeFileAtomic(p, i % 2 === 0 ? b : a);
  Atomics.store(new Int32Array(flag), 0, 1);
  const { reads, bad } = await result;
  await reader.terminate();
  assert.ok(reads > 0, 'the reader read the file');
  assert.equal(bad, 0, `${bad} of ${reads} reads saw a partial file`);
});
