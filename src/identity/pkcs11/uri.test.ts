import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describePkcs11Uri, isPkcs11Uri, MAX_PKCS11_URI_LENGTH, parsePkcs11Uri } from './uri.js';

test('path and query attributes, percent-decoded; id as bytes', () => {
  const u = parsePkcs11Uri(
    'pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=abc;object=web%3Bkey;id=%01%a2;type=private?pin-source=file:/run/pin&module-path=/usr/lib/x.so',
  );
  assert.equal(u.token, 'My Token');
  assert.equal(u.manufacturer, 'SoftHSM project');
  assert.equal(u.serial, 'abc');
  assert.equal(u.object, 'web;key');
  assert.deepEqual(u.id, Buffer.from([0x01, 0xa2]));
  assert.equal(u.type, 'private');
  assert.equal(u.pinSource, '/run/pin');
  assert.equal(u.modulePath, '/usr/lib/x.so');
});

test('the scheme is case-insensitive; empty parts and library-/x- attributes are accepted', () => {
  assert.ok(isPkcs11Uri('PKCS11:token=a'));
  const u = parsePkcs11Uri('PKCS11:token=a;;library-manufacturer=OpenSC;x-vendor=1?pin-value=1234');
  assert.equal(u.token, 'a');
  assert.equal(u.pinValue, '1234');
  assert.equal(parsePkcs11Uri('pkcs11:').token, undefined);
  assert.equal(parsePkcs11Uri('pkcs11:slot-id=7').slotId, 7);
});

test('a description never shows the PIN value', () => {
  const d = describePkcs11Uri(parsePkcs11Uri('pkcs11:token=t;object=o?pin-value=s3cret'));
  assert.equal(d, 'pkcs11:token=t;object=o?pin-value=(hidden)');
  assert.doesNotMatch(d, /s3cret/);
});

test('malformed URIs are refused with the reason and the flag', () => {
  const cases: Array<[string, RegExp]> = [
    ['pkcs11:token=a;bogus=1', /unknown path attribute "bogus"/],
    ['pkcs11:token=a?pin=1', /unknown query attribute "pin"/],
    ['pkcs11:token=a;token=b', /"token" is given twice/],
    ['pkcs11:id=%zz', /not followed by two hex digits/],
    ['pkcs11:id=', /"id" is empty/],
    ['pkcs11:type=key', /"type" must be one of/],
    ['pkcs11:slot-id=-1', /slot-id/],
    ['pkcs11:token', /is not name=value/],
    ['pkcs11:object=%ff', /not UTF-8/],
    ['pkcs11:token=a?pin-value=1&pin-source=/x', /both pin-value and pin-source/],
    ['http://x', /does not start with "pkcs11:"/],
    [`pkcs11:object=${'a'.repeat(MAX_PKCS11_URI_LENGTH)}`, /longer than/],
  ];
  for (const [uri, re] of cases) {
    assert.throws(
      () => parsePkcs11Uri(uri, '--certificate'),
      (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && re.test(e.message) && e.message.startsWith('--certificate'),
      uri,
    );
  }
});
