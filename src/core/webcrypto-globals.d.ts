// @peculiar/x509's declarations name the Web Crypto types as DOM globals (CryptoKey,
// Algorithm, ...). This project compiles without the DOM lib, so tsc's skipLibCheck hid
// them as unresolved; here they are the same types Node declares under node:crypto's
// `webcrypto` namespace (@types/node crypto.d.ts), so type-aware lint can check the calls.
import type { webcrypto } from 'node:crypto';

declare global {
  type Algorithm = webcrypto.Algorithm;
  type BufferSource = webcrypto.BufferSource;
  type Crypto = webcrypto.Crypto;
  type CryptoKey = webcrypto.CryptoKey;
  type CryptoKeyPair = webcrypto.CryptoKeyPair;
  type EcKeyGenParams = webcrypto.EcKeyGenParams;
  type EcKeyImportParams = webcrypto.EcKeyImportParams;
  type EcdsaParams = webcrypto.EcdsaParams;
  type KeyUsage = webcrypto.KeyUsage;
  type RsaHashedImportParams = webcrypto.RsaHashedImportParams;
}
