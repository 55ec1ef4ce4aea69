/**
 * The demo PKI in certs-example/ (public keys and public private keys: demo material only),
 * which `demo` runs on and `emulator` trusts by default. Read from the package root here
 * (dist/src/cli -> ../../..); the single-executable bundle swaps this module for one that
 * carries the same files inside the executable (packaging/shims/certs-example.ts).
 */
import { readFile } from 'node:fs/promises';

export const CERTS_EXAMPLE_FILES = ['root-ca.pem', 'intermediate-ca.pem', 'leaf-rsa.pem', 'leaf-rsa.key'] as const;
export type CertsExampleFile = (typeof CERTS_EXAMPLE_FILES)[number];

export async function readCertsExample(name: CertsExampleFile): Promise<Buffer> {
  return readFile(new URL(`../../../certs-example/${name}`, import.meta.url));
}
