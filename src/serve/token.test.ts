import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Random } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import { generateToken, validateContainerToken, writeSecretFile } from './token.js';

const fixedRandom = (byte: number): Random => ({ float: () => 0, bytes: (n) => Buffer.alloc(n, byte) });

test('generateToken: 32 random bytes as 43 URL-safe characters', () => {
  assert.equal(generateToken(fixedRandom(0xff)), '_'.repeat(42) + '8');
  const a = generateToken();
  const b = generateToken();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  validateContainerToken(a);
  assert.throws(() => generateToken({ float: () => 0, bytes: () => Buffer.alloc(4) }), RangeError);
});

test('validateContainerToken refuses short tokens, whitespace and newlines', () => {
  for (const bad of ['short', `${'a'.repeat(20)}\n`, `${'a'.repeat(10)} ${'b'.repeat(10)}`, 'é'.repeat(20), 'a'.repeat(2000)]) {
    assert.throws(
      () => validateContainerToken(bad),
      (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID',
    );
  }
});

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ras-token-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('writeSecretFile writes exactly the content, mode 0600, no newline, no temp file left', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'token');
  await writeSecretFile(path, 'abc123');
  assert.equal(await readFile(path, 'utf8'), 'abc123');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['token']);
});

test('writeSecretFile replaces an existing world-readable file atomically with a 0600 one', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'token');
  await writeFile(path, 'old-token-content\n');
  await chmod(path, 0o644);
  const before = (await stat(path)).ino;
  await writeSecretFile(path, 'new');
  const after = await stat(path);
  assert.equal(await readFile(path, 'utf8'), 'new');
  assert.equal(after.mode & 0o777, 0o600);
  // A new inode: readers holding the old file never see a half-written one.
  assert.notEqual(after.ino, before);
  assert.deepEqual(await readdir(dir), ['token']);
});

test('writeSecretFile refuses line breaks and reports unwritable places with a typed error', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(writeSecretFile(join(dir, 'token'), 'abc\n'), (e: unknown) => e instanceof SidecarError && e.code === 'CONFIG_INVALID');
  await assert.rejects(
    writeSecretFile(join(dir, 'missing-dir', 'token'), 'abc'),
    (e: unknown) => e instanceof SidecarError && e.code === 'FILE_UNWRITABLE' && e.message.includes('missing-dir'),
  );
  assert.deepEqual(await readdir(dir), []);
});
