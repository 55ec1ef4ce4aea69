import { test } from 'node:test';
import assert from 'node:assert/strict';
import { children, isDerSequence, readTlv, smallInteger } from './der.js';

test('readTlv: short and long lengths; indefinite or overrunning lengths are not DER', () => {
  assert.deepEqual(readTlv(Buffer.from([0x04, 0x02, 0xaa, 0xbb]), 0), { tag: 0x04, start: 2, end: 4 });
  const long = Buffer.concat([Buffer.from([0x04, 0x82, 0x01, 0x00]), Buffer.alloc(256)]);
  assert.deepEqual(readTlv(long, 0), { tag: 0x04, start: 4, end: 260 });
  assert.equal(readTlv(Buffer.from([0x30, 0x80, 0x00, 0x00]), 0), undefined);
  assert.equal(readTlv(Buffer.from([0x04, 0x05, 0x00]), 0), undefined);
  assert.equal(readTlv(Buffer.from([0x04]), 0), undefined);
});

test('isDerSequence needs exactly one SEQUENCE spanning the buffer', () => {
  assert.equal(isDerSequence(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x03])), true);
  assert.equal(isDerSequence(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x03, 0x00])), false);
  assert.equal(isDerSequence(Buffer.from('0 not der')), false);
});

test('smallInteger', () => {
  const seq = Buffer.from([0x30, 0x06, 0x02, 0x01, 0x03, 0x02, 0x01, 0x80]);
  const kids = children(seq, readTlv(seq, 0)!);
  assert.equal(smallInteger(seq, kids[0]), 3);
  assert.equal(smallInteger(seq, kids[1]), undefined); // negative
});
