/**
 * Replaces src/identity/pkcs11/binding-loader.ts in the single-executable bundle. pkcs11js
 * is a native addon, which cannot live inside the executable: it is loaded from a
 * node_modules/ beside the executable (where `npm install pkcs11js` puts it), or from
 * ../lib/rolesanywhere-sidecar/node_modules/ relative to it, where the .deb ships it
 * (/usr/bin -> /usr/lib/rolesanywhere-sidecar, also in a root unpacked anywhere).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const loadPkcs11js = (): typeof import('pkcs11js') => {
  const bin = dirname(process.execPath);
  const places = [join(bin, 'node_modules'), join(bin, '..', 'lib', 'rolesanywhere-sidecar', 'node_modules')];
  let last: unknown;
  for (const dir of places) {
    try {
      return createRequire(join(dir, 'noop.js'))('pkcs11js') as typeof import('pkcs11js');
    } catch (e) {
      last = e;
    }
  }
  throw new Error(
    `pkcs11js was not found in ${places.join(' or ')} (run npm install pkcs11js in one of them): ${(last as Error).message.split('\n')[0] ?? ''}`,
  );
};
