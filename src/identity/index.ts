/** Certificate, chain and key sources -> Identity. The public surface of identity/. */
export { readInput, normalizeSource, sourceLabel, decodeEnvValue, type InputSource, type InputData, type ReadInputOptions } from './input.js';
export { parsePemBlocks, isPem, type PemBlock } from './pem.js';
export {
  parseCertificates,
  orderChain,
  serialToDecimal,
  checkValidity,
  expiresSoon,
  assertNotCa,
  validity,
  issuedBy,
  isSelfSigned,
  subjectOf,
  EXPIRY_WARNING_MS,
} from './certificate.js';
export { parsePrivateKey, mlDsaVariant, type PrivateKeyOptions } from './private-key.js';
export { parsePkcs12, type Pkcs12Contents } from './pkcs12.js';
export { isPkcs12 } from './sniff.js';
export { MAX_INPUT_BYTES, MAX_KEY_DERIVATION_COST, MAX_PEM_BLOCKS, MAX_PASSWORD_BYTES } from './limits.js';
export {
  buildIdentity,
  decodeIdentity,
  loadIdentity,
  buildCertificateInfo,
  loadCertificateOnly,
  loadPrivateKey,
  loadHardwareKeySigner,
  inputLabel,
  type Pkcs11Ref,
  type KeyStoreRef,
  type HardwareOptions,
  type CertificateInfo,
  certificateFingerprint,
  identitySummary,
  type IdentityConfig,
  type KeyConfig,
  type PasswordSource,
  type LoadIdentityDeps,
  type BuildIdentityInput,
} from './load.js';
