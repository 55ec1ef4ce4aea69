import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTss2Pem, parseTpmHandle, tss2EmptyAuth } from './key-ref.js';

function tss2(body: Buffer): Buffer {
  return Buffer.from(`-----BEGIN TSS2 PRIVATE KEY-----\n${body.toString('base64')}\n-----END TSS2 PRIVATE KEY-----\n`);
}
// SEQUENCE { OID 2.23.133.10.1.3, [0] { BOOLEAN }, INTEGER parent, OCTET STRING, OCTET STRING }
const OID = Buffer.from('06066781050a0103', 'hex');
const REST = Buffer.from('020440000001040100040100', 'hex');
function seq(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

test('emptyAuth TRUE, FALSE and absent (FALSE) are read from the key file', () => {
  assert.equal(tss2EmptyAuth(tss2(seq(OID, Buffer.from('a003010101', 'hex'), REST))), true);
  assert.equal(tss2EmptyAuth(tss2(seq(OID, Buffer.from('a003010100', 'hex'), REST))), false);
  assert.equal(tss2EmptyAuth(tss2(seq(OID, REST))), false);
  assert.equal(tss2EmptyAuth(Buffer.from('-----BEGIN TSS2 PRIVATE KEY-----\n!!\n-----END TSS2 PRIVATE KEY-----')), undefined);
  assert.equal(tss2EmptyAuth(tss2(Buffer.from('0201', 'hex'))), undefined);
  assert.ok(isTss2Pem(tss2(seq(OID, REST))));
  assert.ok(!isTss2Pem(Buffer.from('-----BEGIN PRIVATE KEY-----\n')));
});

test('persistent handles only', () => {
  assert.equal(parseTpmHandle('handle:0x81000001'), 0x81000001);
  assert.equal(parseTpmHandle('handle:81000001'), undefined);
  assert.equal(parseTpmHandle('/path/key.pem'), undefined);
  assert.throws(() => parseTpmHandle('handle:0x80000001'), { code: 'CONFIG_INVALID' });
});
