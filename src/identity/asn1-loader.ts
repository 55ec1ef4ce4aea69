/**
 * The typed ASN.1 readers of @peculiar (the authors of @peculiar/x509): asn1-schema with the
 * PKCS#8 and X.509 structures. Loaded on first use (Node caches them after that): only
 * encrypted keys whose decryption needs explaining and keys Node cannot load read them, and
 * loading them up front costs about 60 ms at every start.
 *
 * Its own module because the single-executable bundle swaps it for one that `require`s them
 * from the bundle (packaging/shims/asn1-loader.ts), as for node-forge.
 */
import { createRequire } from 'node:module';
import type * as Schema from '@peculiar/asn1-schema';
import type * as Pkcs8 from '@peculiar/asn1-pkcs8';
import type * as X509 from '@peculiar/asn1-x509';

export interface Asn1Libraries {
  readonly schema: typeof Schema;
  readonly pkcs8: typeof Pkcs8;
  readonly x509: typeof X509;
}

export const loadAsn1 = (): Asn1Libraries => {
  const require = createRequire(import.meta.url);
  return {
    schema: require('@peculiar/asn1-schema') as typeof Schema,
    pkcs8: require('@peculiar/asn1-pkcs8') as typeof Pkcs8,
    x509: require('@peculiar/asn1-x509') as typeof X509,
  };
};
