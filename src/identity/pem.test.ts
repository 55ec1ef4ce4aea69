import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStrictBase64, isPem, parsePemBlocks } from './pem.js';
import { expectError } from '../../test/fixtures/identity/make.js';

const opts = { maxBlocks: 8, label: 'file /t/x.pem' };
const body = Buffer.from('hello certificate bytes, long enough to wrap over a line or two of base64 text').toString('base64');
const wrapped = body.match(/.{1,64}/g)!.join('\n');
const block = (type: string, b = wrapped) => `-----BEGIN ${type}-----\n${b}\n-----END ${type}-----\n`;

test('parses several blocks in order, ignoring text outside them and CRLF line ends', () => {
  const text = `Bag Attributes\n    localKeyId: 01\nsubject=/CN=x\n${block('CERTIFICATE')}junk between\r\n${block('PRIVATE KEY').replace(/\n/g, '\r\n')}`;
  const blocks = parsePemBlocks(text, opts);
  assert.deepEqual(
    blocks.map((b) => b.type),
    ['CERTIFICATE', 'PRIVATE KEY'],
  );
  for (const b of blocks) assert.equal(b.der.toString(), 'hello certificate bytes, long enough to wrap over a line or two of base64 text');
  assert.deepEqual(parsePemBlocks(Buffer.from(text), opts).length, 2);
});

test('keeps RFC 1421 headers (legacy encrypted keys)', () => {
  const text = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0C08\n\n${wrapped}\n-----END RSA PRIVATE KEY-----\n`;
  const [b] = parsePemBlocks(text, opts);
  assert.equal(b!.headers['Proc-Type'], '4,ENCRYPTED');
  assert.equal(b!.headers['DEK-Info'], 'AES-256-CBC,0C08');
});

test('text with no block gives an empty list', () => {
  assert.deepEqual(parsePemBlocks('just some text\n', opts), []);
});

test('rejects broken PEM with PEM_INVALID naming the source and the problem', () => {
  const cases: [string, string, string][] = [
    ['truncated (BEGIN without END)', block('CERTIFICATE').split('\n').slice(0, 2).join('\n'), 'no END line'],
    ['END without BEGIN', block('CERTIFICATE').split('\n').slice(1).join('\n'), 'without a BEGIN'],
    ['mismatched labels', `-----BEGIN CERTIFICATE-----\n${wrapped}\n-----END PRIVATE KEY-----\n`, 'closed by END PRIVATE KEY'],
    ['nested BEGIN', `-----BEGIN CERTIFICATE-----\n${wrapped}\n${block('CERTIFICATE')}`, 'END line is missing'],
    ['bad base64 character', block('CERTIFICATE', `${wrapped.slice(0, 10)}*${wrapped.slice(11)}`), 'not base64'],
    ['bad base64 length', block('CERTIFICATE', wrapped.slice(0, -1)), 'not valid base64'],
    ['padding in the middle', block('CERTIFICATE', `QQ==\nQUJD`), 'not valid base64'],
    ['empty block', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'is empty'],
  ];
  for (const [name, text, what] of cases) {
    const e = expectError(() => parsePemBlocks(text, opts), { code: 'PEM_INVALID', mentions: ['file /t/x.pem', what] });
    assert.ok(e.message.length < 300, name);
  }
});

test('caps the number of blocks', () => {
  const many = block('CERTIFICATE').repeat(9);
  expectError(() => parsePemBlocks(many, opts), { code: 'PEM_INVALID', mentions: ['more than 8 PEM blocks'] });
  assert.equal(parsePemBlocks(block('CERTIFICATE').repeat(8), opts).length, 8);
});

test('strict base64: canonical padding bits only', () => {
  assert.deepEqual(decodeStrictBase64('QUJD'), Buffer.from('ABC'));
  assert.deepEqual(decodeStrictBase64('QQ=='), Buffer.from('A'));
  assert.equal(decodeStrictBase64('QR=='), undefined); // non-zero trailing bits
  assert.equal(decodeStrictBase64('QQ='), undefined);
  assert.equal(decodeStrictBase64(''), undefined);
  assert.equal(decodeStrictBase64('QU-D'), undefined); // base64url is not PEM
});

test('isPem tells PEM text from DER', () => {
  assert.equal(isPem(Buffer.from(block('CERTIFICATE'))), true);
  assert.equal(isPem(Buffer.from('no marker here')), false);
  // A DER SEQUENCE whose content happens to contain the marker is still DER.
  const inner = Buffer.from('-----BEGIN X');
  assert.equal(isPem(Buffer.concat([Buffer.from([0x30, inner.length]), inner])), false);
});
