import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createKeySigner } from '../identity/key-signer.js';
import { signCreateSession } from '../signing/create-session.js';
import { parseCaBundle } from '../identity/ca-bundle.js';
import { defaultEmulatorConfig } from './config.js';
import { verifyCreateSession } from './verifier.js';
import { DEFAULT_PARAMS, TEST_NOW, decimalSerial, received } from '../../test/helpers/emulator-support.js';

// The committed demo PKI (certs-example/) must keep working with the emulator's default world.
const dir = fileURLToPath(new URL('../../../certs-example/', import.meta.url));
const read = (name: string): string => readFileSync(`${dir}${name}`, 'utf8');

test('the committed demo certificates are accepted by the default emulator world', async () => {
  const config = defaultEmulatorConfig({ roots: parseCaBundle(read('root-ca.pem')) });
  const cases: Array<[string, string, string[]]> = [
    ['leaf-rsa.pem', 'leaf-rsa.key', ['leaf-rsa-chain.pem']],
    ['leaf-ec.pem', 'leaf-ec.key', []],
  ];
  for (const [certFile, keyFile, chainFiles] of cases) {
    const cert = new X509Certificate(read(certFile));
    const chain = chainFiles.flatMap((f) => parseCaBundle(read(f)));
    assert.match(cert.subject, /DO NOT TRUST/);
    const signed = await signCreateSession(
      {
        certificateDer: cert.raw,
        chainDer: chain.map((c) => c.raw),
        serialDecimal: decimalSerial(cert),
        signer: createKeySigner(createPrivateKey(read(keyFile))),
      },
      DEFAULT_PARAMS,
      'us-east-1',
      '127.0.0.1:8443',
      TEST_NOW,
    );
    const r = verifyCreateSession(received(signed), config, TEST_NOW);
    assert.equal(r.ok, true, r.ok ? certFile : `${certFile}: ${r.message}`);
  }
  const full = parseCaBundle(read('leaf-rsa-fullchain.pem'));
  assert.equal(full.length, 2);
  assert.ok(full[1]!.raw.equals(new X509Certificate(read('intermediate-ca.pem')).raw));
});
