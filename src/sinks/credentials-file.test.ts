import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateProfile } from './credentials-file.js';

const vals: Array<[string, string]> = [
  ['aws_access_key_id', 'ASIANEW'],
  ['aws_secret_access_key', 'newsecret'],
  ['aws_session_token', 'newtoken'],
];

test('adds a profile to an empty file', () => {
  assert.equal(updateProfile('', 'default', vals), '[default]\naws_access_key_id = ASIANEW\naws_secret_access_key = newsecret\naws_session_token = newtoken\n');
});

test('replaces keys in place and keeps other profiles, comments and unknown keys', () => {
  const before = [
    '# managed by hand',
    '[other]',
    'aws_access_key_id = AKIAOTHER',
    '',
    '[default]',
    '; a comment in the profile',
    'region = eu-west-1',
    'aws_access_key_id=ASIAOLD',
    'aws_session_token = oldtoken',
    '',
    '[last]',
    'x = 1',
  ].join('\n');
  const after = updateProfile(before, 'default', vals);
  assert.equal(
    after,
    [
      '# managed by hand',
      '[other]',
      'aws_access_key_id = AKIAOTHER',
      '',
      '[default]',
      '; a comment in the profile',
      'region = eu-west-1',
      'aws_access_key_id = ASIANEW',
      'aws_session_token = newtoken',
      'aws_secret_access_key = newsecret',
      '',
      '[last]',
      'x = 1',
      '',
    ].join('\n'),
  );
  // idempotent
  assert.equal(updateProfile(after, 'default', vals), after);
});

test('appends a new profile after existing content and keeps CRLF files CRLF', () => {
  const after = updateProfile('[a]\r\nk = v\r\n', 'ci', vals.slice(0, 1));
  assert.equal(after, '[a]\r\nk = v\r\n\r\n[ci]\r\naws_access_key_id = ASIANEW\r\n');
});
