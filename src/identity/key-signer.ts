/**
 * Turns a private KeyObject into a KeySigner, and verifies signatures with a public key.
 * The algorithm rules (docs/createsession.md, "Key algorithms"): RSA is PKCS#1 v1.5 over SHA-256;
 * ECDSA is always SHA-256 (also P-384 and P-521) with a DER SEQUENCE{r,s}; ML-DSA is pure
 * ML-DSA over the raw string to sign (Node >= 24.7).
 */
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { SidecarError } from '../core/errors.js';
import type { KeyKind, KeySigner, SigningAlgorithm } from '../core/identity.js';

const ML_DSA_TYPES = new Set(['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87']);

export interface KeyDescription {
  readonly kind: KeyKind;
  readonly algorithm: SigningAlgorithm;
  readonly description: string;
}

/** Classifies a (private or public) key; throws KEY_UNSUPPORTED for anything the service does not take. */
export function describeKey(key: KeyObject): KeyDescription {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048 || bits > 4096) {
      throw new SidecarError(
        'KEY_UNSUPPORTED',
        `RSA key of ${bits} bits is not supported: use an RSA key of 2048 to 4096 bits, or an ECDSA P-256/P-384/P-521 key`,
      );
    }
    return { kind: 'RSA', algorithm: 'AWS4-X509-RSA-SHA256', description: `RSA-${bits}` };
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? '';
    const name = { prime256v1: 'P-256', 'P-256': 'P-256', secp384r1: 'P-384', 'P-384': 'P-384', secp521r1: 'P-521', 'P-521': 'P-521' }[curve];
    if (name === undefined) {
      throw new SidecarError('KEY_UNSUPPORTED', `EC key on curve "${curve}" is not supported: use P-256, P-384 or P-521`);
    }
    return { kind: 'EC', algorithm: 'AWS4-X509-ECDSA-SHA256', description: `EC-${name}` };
  }
  if (type !== undefined && ML_DSA_TYPES.has(type)) {
    return { kind: 'ML-DSA', algorithm: 'AWS4-X509-MLDSA', description: type.toUpperCase() };
  }
  throw new SidecarError(
    'KEY_UNSUPPORTED',
    `key type "${type ?? 'unknown'}" is not supported: use an RSA (2048-4096), ECDSA (P-256/P-384/P-521) or ML-DSA key`,
  );
}

/** Signs `data` as the service expects for this key type. */
export function signBytes(kind: KeyKind, key: KeyObject, data: Buffer): Buffer {
  switch (kind) {
    case 'RSA':
      return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'EC':
      return sign('sha256', data, { key, dsaEncoding: 'der' });
    case 'ML-DSA':
      return sign(null, data, key);
  }
}

/** Verifies a signature made by `signBytes`; never throws on a bad signature, only returns false. */
export function verifyBytes(kind: KeyKind, publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    switch (kind) {
      case 'RSA':
        return verify('sha256', data, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'EC':
        return verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature);
      case 'ML-DSA':
        return verify(null, data, publicKey, signature);
    }
  } catch {
    return false;
  }
}

/** A KeySigner over an in-process private key. The key is held in the closure, never exposed. */
export function createKeySigner(privateKey: KeyObject): KeySigner {
  if (privateKey.type !== 'private') {
    throw new SidecarError('KEY_INVALID', 'a private key is required for signing, but a public key was given');
  }
  const d = describeKey(privateKey);
  return {
    algorithm: d.algorithm,
    kind: d.kind,
    description: d.description,
    sign: async (data: Buffer) => {
      try {
        return await Promise.resolve(signBytes(d.kind, privateKey, data));
      } catch (e) {
        throw new SidecarError(
          'SIGNING_FAILED',
          `signing with the ${d.description} key failed (${(e as Error).message}); check the key file and the Node.js version`,
          { cause: e },
        );
      }
    },
  };
}
