import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCredentialProcess } from './credential-process.js';

test('credential_process JSON has Version 1 and a Z timestamp without milliseconds', () => {
  const out = formatCredentialProcess({
    accessKeyId: 'ASIAEXAMPLE',
    secretAccessKey: 'secret',
    sessionToken: 'token',
    expiration: Date.UTC(2026, 10, 22, 15, 4, 5, 678),
  });
  assert.equal(out, '{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","SessionToken":"token","Expiration":"2026-11-22T15:04:05Z"}');
});
