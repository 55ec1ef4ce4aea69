import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { SidecarError } from '../core/errors.js';
import { readFileBounded, readStreamBounded, writeFileAtomic } from './files.js';

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

test('bounded reads: a file at the cap is read whole; one byte more fails before its bytes are read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ras-bounded-'));
  try {
    const p = join(dir, 'f');
    writeFileSync(p, Buffer.alloc(1000, 0x61));
    assert.equal((await readFileBounded(p, { maxBytes: 1000 })).length, 1000);
    let sawSize = -1;
    await assert.rejects(
      readFileBounded(p, { maxBytes: 999, inspect: (st) => (sawSize = st.size) }),
      (e: unknown) => e instanceof SidecarError && e.code === 'INPUT_TOO_LARGE' && e.message.includes(p),
    );
    assert.equal(sawSize, 1000, 'fstat is consulted before any read');
    // A size the descriptor does not report (a device, a FIFO) is bounded by the read itself.
    await assert.rejects(readFileBounded('/dev/zero', { maxBytes: 4096 }), (e: unknown) => e instanceof SidecarError && e.code === 'INPUT_TOO_LARGE');
    // Bigger than the first buffer: the read grows it and still returns every byte.
    writeFileSync(p, Buffer.alloc(200_000, 0x62));
    assert.ok((await readFileBounded(p, { maxBytes: 300_000 })).equals(Buffer.alloc(200_000, 0x62)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bounded reads: inspect can refuse a file before it is read; errno errors say what is wrong', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ras-bounded-'));
  try {
    const p = join(dir, 'f');
    writeFileSync(p, 'x');
    const refused = new Error('refused');
    await assert.rejects(
      readFileBounded(p, {
        maxBytes: 10,
        inspect: () => {
          throw refused;
        },
      }),
      (e: unknown) => e === refused,
    );
    await assert.rejects(
      readFileBounded(join(dir, 'missing'), { maxBytes: 10 }),
      (e: unknown) => e instanceof SidecarError && e.code === 'FILE_UNREADABLE' && e.message.includes('does not exist'),
    );
    await assert.rejects(
      readFileBounded(dir, { maxBytes: 10 }),
      (e: unknown) => e instanceof SidecarError && e.code === 'FILE_UNREADABLE' && e.message.includes('is a directory'),
    );
    const custom = new Error('custom');
    await assert.rejects(
      readFileBounded(join(dir, 'missing'), { maxBytes: 10, unreadable: (code) => (code === 'ENOENT' ? custom : new Error(code)) }),
      (e: unknown) => e === custom,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bounded stream reads stop at the cap', async () => {
  const tooLarge = new Error('too large');
  assert.equal((await readStreamBounded(Readable.from([Buffer.from('ab'), 'cd']), 4, () => tooLarge)).toString(), 'abcd');
  await assert.rejects(
    readStreamBounded(Readable.from([Buffer.from('ab'), 'cde']), 4, () => tooLarge),
    (e: unknown) => e === tooLarge,
  );
});
