import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { configureFuzzSeed } from '../../test/helpers/fuzz-seed.js';
import { readEnvironment } from './environment.js';

configureFuzzSeed();

test('the SDK-standard variables: upper case first, empty means unset, flags as the SDKs read them', () => {
  assert.deepEqual(readEnvironment({}), { useFipsEndpoint: false, useDualStackEndpoint: false, proxy: { anySet: false } });
  const e = readEnvironment({
    AWS_USE_FIPS_ENDPOINT: ' TRUE ',
    AWS_USE_DUALSTACK_ENDPOINT: 'no',
    AWS_CA_BUNDLE: '/etc/ca.pem',
    HTTPS_PROXY: 'http://proxy:3128',
    https_proxy: 'http://other:1',
    http_proxy: 'http://lower:2',
    NO_PROXY: '',
    no_proxy: 'ignored.example',
    AWS_SHARED_CREDENTIALS_FILE: '',
    ROLESANYWHERE_CONTAINER_TOKEN: 'a-token-of-sixteen-chars',
  });
  assert.deepEqual(e, {
    useFipsEndpoint: true,
    useDualStackEndpoint: false,
    caBundle: '/etc/ca.pem',
    proxy: { httpsProxy: 'http://proxy:3128', httpProxy: 'http://lower:2', anySet: true },
    containerToken: 'a-token-of-sixteen-chars',
  });
  // An empty upper-case proxy still counts as set for the NO_PROXY hint given to children.
  assert.deepEqual(readEnvironment({ HTTPS_PROXY: '', https_proxy: 'http://x:1' }).proxy, { anySet: true });
});

test('any environment reads without throwing, and every value returned is one of the inputs', () => {
  const names = [
    'AWS_USE_FIPS_ENDPOINT',
    'AWS_USE_DUALSTACK_ENDPOINT',
    'AWS_CA_BUNDLE',
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'NO_PROXY',
    'no_proxy',
    'AWS_SHARED_CREDENTIALS_FILE',
    'ROLESANYWHERE_CONTAINER_TOKEN',
    'OTHER',
  ];
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...names), fc.string({ unit: 'binary', maxLength: 64 })), (env) => {
      const e = readEnvironment(env);
      const inputs = new Set(Object.values(env));
      for (const v of [e.caBundle, e.sharedCredentialsFile, e.containerToken, e.proxy.httpsProxy, e.proxy.httpProxy, e.proxy.noProxy]) {
        if (v !== undefined) assert.ok(inputs.has(v) && v !== '');
      }
      assert.equal(typeof e.useFipsEndpoint, 'boolean');
    }),
  );
});
