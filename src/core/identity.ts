import type { KeyObject, X509Certificate } from 'node:crypto';

/** SigV4-X509 algorithm names, as the service expects them in the string to sign. */
export type SigningAlgorithm = 'AWS4-X509-RSA-SHA256' | 'AWS4-X509-ECDSA-SHA256' | 'AWS4-X509-MLDSA';

export type KeyKind = 'RSA' | 'EC' | 'ML-DSA';

/**
 * Signs bytes with a private key that never leaves this object: an in-process KeyObject, a
 * key on a PKCS#11 token, or a key inside a TPM. Returns the signature in the wire form the
 * service expects: PKCS#1 v1.5 for RSA, DER SEQUENCE{r,s} for ECDSA, raw for ML-DSA.
 * Asynchronous because a token or a TPM answers in its own time.
 */
export interface KeySigner {
  readonly algorithm: SigningAlgorithm;
  readonly kind: KeyKind;
  /** e.g. `RSA-2048`, `EC-P-384`, `ML-DSA-65`. */
  readonly description: string;
  sign(data: Buffer): Promise<Buffer>;
}

/** A loaded workload identity: leaf certificate, chain, and a signer for its key. */
export interface Identity {
  readonly certificate: X509Certificate;
  /** Intermediates in issuing order (the one that issued the leaf first), leaf excluded. */
  readonly chain: readonly X509Certificate[];
  readonly signer: KeySigner;
  /** Leaf serial number in decimal (arbitrary length; never a JS number). */
  readonly serialDecimal: string;
  /** Leaf validity, milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** SHA-256 fingerprint of the leaf DER, hex, for logs and cache keys. */
  readonly fingerprint: string;
}

/** A key and certificate that must be kept private to the process. */
export type PrivateKey = KeyObject;
