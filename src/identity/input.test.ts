import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readInput, normalizeSource, sourceLabel, decodeEnvValue } from './input.js';
import { expectRejection, expectError, tempDir, write } from '../../test/fixtures/identity/make.js';

const { dir, cleanup } = tempDir();
after(cleanup);

const pem = '-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n';
const base = { maxBytes: 1024, env: {} };

test('reads a file and labels it by path', async () => {
  const p = write(dir, 'c.pem', pem);
  const r = await readInput({ kind: 'file', path: p }, base);
  assert.equal(r.label, `file ${p}`);
  assert.equal(r.data.toString(), pem);
});

test('file errors say what is wrong and which flag to fix', async () => {
  const missing = join(dir, 'nope.pem');
  const e = await expectRejection(readInput({ kind: 'file', path: missing }, { ...base, flag: '--certificate' }), {
    code: 'FILE_UNREADABLE',
    mentions: [missing, 'does not exist', '--certificate'],
  });
  assert.equal(e.details['errno'], 'ENOENT');
  const d = join(dir, 'adir');
  mkdirSync(d);
  await expectRejection(readInput({ kind: 'file', path: d }, { ...base, flag: '--private-key' }), {
    code: 'FILE_UNREADABLE',
    mentions: [d, 'is a directory', '--private-key'],
  });
  await expectRejection(readInput({ kind: 'file', path: join(write(dir, 'f', 'x'), 'child') }, base), {
    code: 'FILE_UNREADABLE',
    mentions: ['not a directory'],
  });
  await expectRejection(readInput({ kind: 'file', path: write(dir, 'empty.pem', '') }, { ...base, flag: '--certificate' }), {
    code: 'FILE_UNREADABLE',
    mentions: ['is empty', '--certificate'],
  });
});

test('unreadable file: permission denied', { skip: process.getuid?.() === 0 ? 'runs as root: permissions are not enforced' : false }, async () => {
  const p = write(dir, 'locked.pem', pem);
  chmodSync(p, 0o000);
  await expectRejection(readInput({ kind: 'file', path: p }, base), { code: 'FILE_UNREADABLE', mentions: ['permission denied'] });
});

test('inputs over the cap fail with INPUT_TOO_LARGE, whatever the source', async () => {
  const big = 'x'.repeat(1025);
  await expectRejection(readInput({ kind: 'file', path: write(dir, 'big', big) }, base), { code: 'INPUT_TOO_LARGE', mentions: ['file', '1024 bytes'] });
  // A FIFO-like source whose size is unknown up front: /dev/zero reports size 0 and never ends.
  await expectRejection(readInput({ kind: 'file', path: '/dev/zero' }, base), { code: 'INPUT_TOO_LARGE', mentions: ['/dev/zero'] });
  await expectRejection(readInput({ kind: 'stdin' }, { ...base, stdin: Readable.from([Buffer.from(big.slice(0, 600)), Buffer.from(big.slice(600))]) }), {
    code: 'INPUT_TOO_LARGE',
    mentions: ['stdin'],
  });
  await expectRejection(readInput({ kind: 'env', name: 'BIG' }, { ...base, env: { BIG: Buffer.alloc(2000).toString('base64') } }), {
    code: 'INPUT_TOO_LARGE',
    mentions: ['env BIG'],
  });
  // Exactly at the cap is fine.
  const r = await readInput({ kind: 'file', path: write(dir, 'exact', 'y'.repeat(1024)) }, base);
  assert.equal(r.data.length, 1024);
});

test('env: PEM text as is, with literal \\n sequences, or base64 of PEM or DER', async () => {
  const der = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x03]);
  const env = {
    PLAIN: pem,
    ESCAPED: pem.replace(/\n/g, '\\n'),
    B64PEM: Buffer.from(pem)
      .toString('base64')
      .replace(/(.{20})/g, '$1\n'),
    B64DER: der.toString('base64'),
  };
  const read = async (name: string) => readInput({ kind: 'env', name }, { ...base, env });
  assert.equal((await read('PLAIN')).data.toString(), pem);
  assert.equal((await read('PLAIN')).label, 'env PLAIN');
  assert.equal((await read('ESCAPED')).data.toString(), pem);
  assert.equal((await read('B64PEM')).data.toString(), pem);
  assert.deepEqual((await read('B64DER')).data, der);
});

test('env errors: unset, empty, neither PEM nor base64', async () => {
  const opts = { ...base, env: { EMPTY: '  ', JUNK: 'this is not base64!' }, flag: '--certificate-env' };
  await expectRejection(readInput({ kind: 'env', name: 'UNSET' }, opts), { code: 'CONFIG_INVALID', mentions: ['UNSET', 'not set', '--certificate-env'] });
  await expectRejection(readInput({ kind: 'env', name: 'EMPTY' }, opts), { code: 'CONFIG_INVALID', mentions: ['EMPTY', 'empty'] });
  await expectRejection(readInput({ kind: 'env', name: 'JUNK' }, opts), {
    code: 'PEM_INVALID',
    mentions: ['env JUNK', 'neither PEM text nor base64'],
    secrets: ['this is not base64!'],
  });
  expectError(() => decodeEnvValue('X', 'QR==', 100), { code: 'PEM_INVALID' });
});

test('stdin: read from the given stream; "-" as a path means stdin', async () => {
  assert.deepEqual(normalizeSource({ kind: 'file', path: '-' }), { kind: 'stdin' });
  assert.equal(sourceLabel({ kind: 'file', path: '-' }), 'stdin');
  const r = await readInput({ kind: 'file', path: '-' }, { ...base, stdin: Readable.from([Buffer.from(pem.slice(0, 10)), pem.slice(10)]) });
  assert.equal(r.label, 'stdin');
  assert.equal(r.data.toString(), pem);
  await expectRejection(readInput({ kind: 'stdin' }, base), { code: 'CONFIG_INVALID', mentions: ['stdin'] });
  await expectRejection(readInput({ kind: 'stdin' }, { ...base, stdin: Readable.from([]) }), { code: 'FILE_UNREADABLE', mentions: ['stdin was empty'] });
});
