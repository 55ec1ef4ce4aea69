/**
 * Replaces src/identity/asn1-loader.ts in the single-executable bundle: the bundler turns
 * these `require`s into calls of the modules' wrappers inside the bundle, which still run
 * only when an encrypted or unloadable key is explained.
 */
import type { Asn1Libraries } from '../../src/identity/asn1-loader.js';

export const loadAsn1 = (): Asn1Libraries => ({
  schema: require('@peculiar/asn1-schema') as Asn1Libraries['schema'],
  pkcs8: require('@peculiar/asn1-pkcs8') as Asn1Libraries['pkcs8'],
  x509: require('@peculiar/asn1-x509') as Asn1Libraries['x509'],
});
