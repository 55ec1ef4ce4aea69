import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createKeySigner } from '../identity/key-signer.js';
import { signCreateSession } from './create-session.js';

// Test files compile to dist/src/signing; fixtures stay in the source tree.
const fixtures = fileURLToPath(new URL('../../../test/fixtures/vectors/', import.meta.url));

test('reproduces the captured RSA CreateSession request byte for byte', async () => {
  const dir = `${fixtures}rsa-capture/`;
  const readme = readFileSync(`${dir}README.md`, 'utf8');
  const expected = /```\n(AWS4-X509-RSA-SHA256 [^\n]+)\n```/.exec(readme)?.[1];
  assert.ok(expected, 'vector README holds the expected Authorization header');
  const cert = new X509Certificate(readFileSync(`${dir}leaf.crt`));
  const key = createPrivateKey(readFileSync(`${dir}leaf.key`));
  const signed = await signCreateSession(
    { certificateDer: cert.raw, chainDer: [], serialDecimal: BigInt(`0x${cert.serialNumber}`).toString(10), signer: createKeySigner(key) },
    {
      profileArn: 'arn:aws:rolesanywhere:us-east-2:291738886548:profile/6f4943fb-13d4-4242-89c4-be367595c380',
      roleArn: 'arn:aws:iam::291738886548:role/rolesanywhere1',
      trustAnchorArn: 'arn:aws:rolesanywhere:us-east-2:291738886548:trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da',
      durationSeconds: 3600,
    },
    'us-east-2',
    '127.0.0.1:8080',
    Date.UTC(2024, 6, 6, 11, 38, 59),
  );
  const auth = signed.headers.find(([n]) => n === 'Authorization')?.[1];
  assert.equal(auth, expected);
  assert.equal(
    signed.pathAndQuery,
    '/sessions?profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-2%3A291738886548%3Aprofile%2F6f4943fb-13d4-4242-89c4-be367595c380&roleArn=arn%3Aaws%3Aiam%3A%3A291738886548%3Arole%2Frolesanywhere1&trustAnchorArn=arn%3Aaws%3Arolesanywhere%3Aus-east-2%3A291738886548%3Atrust-anchor%2Fa545a1fc-5d86-4032-8f4c-61cdd6ff92da',
  );
  assert.equal(signed.body, '{"durationSeconds":3600}');
});
