/**
 * Private keys: PKCS#8 (plain or encrypted with PBES2/PBKDF2 or scrypt), PKCS#1 and SEC1,
 * as PEM or DER, or the key block of a combined certificate+key PEM. Node's own crypto
 * decodes them (docs/identity-formats.md); this module picks the format, maps
 * failures to one-line errors, and never puts key material or the password in a message.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { SidecarError } from '../core/errors.js';
import { loadAsn1 } from './asn1-loader.js';
import { children, isDerSequence, maxIterationCount, readTlv, TAG_OCTET_STRING, TAG_SEQUENCE } from './der.js';
import { isPem, parsePemBlocks, type PemBlock } from './pem.js';
import { MAX_KEY_DERIVATION_COST, MAX_PEM_BLOCKS } from './limits.js';
import { decryptPbes2 } from './pbes2.js';

import { isPkcs12 } from './sniff.js';

export interface PrivateKeyOptions {
  /** The runtime's version for messages (default `process.version`); injectable for tests. */
  readonly nodeVersion?: string;
}

type DerKeyType = 'pkcs8' | 'pkcs1' | 'sec1';

const PEM_KEY_TYPES: Readonly<Record<string, DerKeyType>> = {
  'PRIVATE KEY': 'pkcs8',
  'ENCRYPTED PRIVATE KEY': 'pkcs8',
  'RSA PRIVATE KEY': 'pkcs1',
  'EC PRIVATE KEY': 'sec1',
};

const ML_DSA_OIDS: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.3.17': 'ML-DSA-44',
  '2.16.840.1.101.3.4.3.18': 'ML-DSA-65',
  '2.16.840.1.101.3.4.3.19': 'ML-DSA-87',
};

/** rsaEncryption, RSASSA-PSS, id-ecPublicKey: algorithms every supported Node.js loads. */
const LOADABLE_OIDS = new Set(['1.2.840.113549.1.1.1', '1.2.840.113549.1.1.10', '1.2.840.10045.2.1']);

export const PASSWORD_FIX = 'pass --pkcs8-password, set ROLESANYWHERE_PKCS8_PASSWORD, or use --pkcs8-password-file';

/** The algorithm OID of a plain PKCS#8 PrivateKeyInfo, read without loading the key (only to explain a key Node refused). */
export function pkcs8AlgorithmOid(der: Buffer): string | undefined {
  const { schema, pkcs8 } = loadAsn1();
  try {
    return schema.AsnConvert.parse(der, pkcs8.PrivateKeyInfo).privateKeyAlgorithm.algorithm;
  } catch {
    return undefined;
  }
}

/** `SEQUENCE { AlgorithmIdentifier, OCTET STRING }`: an EncryptedPrivateKeyInfo, not a PrivateKeyInfo (which starts with an INTEGER). */
export function isEncryptedPkcs8Der(der: Buffer): boolean {
  const top = readTlv(der, 0);
  if (top === undefined || top.tag !== TAG_SEQUENCE) return false;
  const kids = children(der, top, 3);
  return kids.length === 2 && kids[0]!.tag === TAG_SEQUENCE && kids[1]!.tag === TAG_OCTET_STRING;
}

export function mlDsaVariant(pkcs8Der: Buffer): string | undefined {
  const oid = pkcs8AlgorithmOid(pkcs8Der);
  return oid === undefined ? undefined : ML_DSA_OIDS[oid];
}

function mlDsaUnsupported(variant: string, label: string, nodeVersion: string, cause?: unknown): SidecarError {
  return new SidecarError(
    'KEY_UNSUPPORTED',
    `${label} holds an ${variant} key: ML-DSA keys need Node.js >= 24.7; this is ${nodeVersion}: run the sidecar on Node.js 24.7 or newer, or use an RSA or ECDSA key`,
    { cause, details: { source: label, keyType: variant } },
  );
}

function wrongPassword(label: string, cause: unknown, extra = ''): SidecarError {
  return new SidecarError(
    'KEY_PASSWORD_WRONG',
    `the password does not decrypt the private key in ${label}${extra}: check the value given by --pkcs8-password, ROLESANYWHERE_PKCS8_PASSWORD or --pkcs8-password-file`,
    { cause, details: { source: label } },
  );
}

/**
 * Why OpenSSL refused an encrypted key. "bad decrypt" is a wrong password; anything else is
 * either a wrong password whose padding happened to check out, or a right password and a key
 * this runtime cannot load: decrypting it here tells which (see pbes2.ts).
 */
function explainEncryptedFailure(der: Buffer, label: string, password: string, nodeVersion: string, code: string, cause: unknown): SidecarError {
  if (code === 'ERR_OSSL_BAD_DECRYPT') return wrongPassword(label, cause);
  const r = decryptPbes2(der, password);
  if (r.status === 'ok') {
    try {
      if (!isDerSequence(r.plain)) return wrongPassword(label, cause);
      const variant = mlDsaVariant(r.plain);
      if (variant !== undefined) return mlDsaUnsupported(variant, label, nodeVersion, cause);
      const oid = pkcs8AlgorithmOid(r.plain) ?? 'unknown';
      if (LOADABLE_OIDS.has(oid)) {
        return new SidecarError(
          'KEY_INVALID',
          `the private key in ${label} decrypts, but the key inside cannot be loaded (${code}): check that the file is complete and unmodified`,
          {
            cause,
            details: { source: label },
          },
        );
      }
      return new SidecarError(
        'KEY_UNSUPPORTED',
        `the private key in ${label} is of an algorithm (OID ${oid}) this Node.js (${nodeVersion}) cannot load: use an RSA or ECDSA key`,
        {
          cause,
          details: { source: label },
        },
      );
    } finally {
      r.plain.fill(0);
    }
  }
  if (r.status === 'bad-padding') return wrongPassword(label, cause);
  return wrongPassword(label, cause, ` (or the key inside is of an algorithm this Node.js ${nodeVersion} cannot load; ML-DSA keys need Node.js >= 24.7)`);
}

/**
 * Loads a DER key of a known type. `encrypted` PKCS#8 needs `password`. Errors name the
 * source and the fix; Node's message is kept only as an OpenSSL code (never key bytes).
 */
export function loadKeyDer(
  der: Buffer,
  type: DerKeyType,
  encrypted: boolean,
  label: string,
  password: string | undefined,
  opts: PrivateKeyOptions = {},
): KeyObject {
  const nodeVersion = opts.nodeVersion ?? process.version;
  if (encrypted && password === undefined) {
    throw new SidecarError('KEY_PASSWORD_REQUIRED', `the private key in ${label} is encrypted and no password was given: ${PASSWORD_FIX}`, {
      details: { source: label },
    });
  }
  // Refused before OpenSSL runs the derivation: a key asking for billions of iterations
  // would hold a CPU for minutes (see MAX_KEY_DERIVATION_COST).
  if (encrypted && maxIterationCount(der) > MAX_KEY_DERIVATION_COST) {
    throw new SidecarError(
      'KEY_UNSUPPORTED',
      `the encrypted private key in ${label} asks for more than ${MAX_KEY_DERIVATION_COST} key-derivation iterations: re-encrypt it with "openssl pkcs8 -topk8 -v2 aes-256-cbc"`,
      { details: { source: label } },
    );
  }
  try {
    return encrypted ? createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase: password }) : createPrivateKey({ key: der, format: 'der', type });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown';
    if (encrypted) throw explainEncryptedFailure(der, label, password!, nodeVersion, code, e);
    const variant = mlDsaVariant(der);
    if (variant !== undefined) throw mlDsaUnsupported(variant, label, nodeVersion, e);
    throw new SidecarError(
      'KEY_INVALID',
      `${label}: the ${type.toUpperCase()} private key cannot be loaded (${code}): check that it is a complete, unmodified private key`,
      {
        cause: e,
        details: { source: label },
      },
    );
  }
}

function keyFromPemBlocks(blocks: readonly PemBlock[], label: string, password: string | undefined, opts: PrivateKeyOptions): KeyObject {
  const keyBlocks = blocks.filter((b) => PEM_KEY_TYPES[b.type] !== undefined);
  if (keyBlocks.length === 0) {
    const types = [...new Set(blocks.map((b) => b.type))];
    if (types.includes('OPENSSH PRIVATE KEY')) {
      throw new SidecarError('KEY_UNSUPPORTED', `${label} holds an OpenSSH-format key: convert a copy to PKCS#8 with "ssh-keygen -p -m PKCS8 -f <copy>"`, {
        details: { source: label },
      });
    }
    if (types.includes('TSS2 PRIVATE KEY')) {
      throw new SidecarError('KEY_UNSUPPORTED', `${label} holds a TPM 2.0 key, which this sidecar cannot use yet: use a PEM private key`, {
        details: { source: label },
      });
    }
    if (types.includes('DSA PRIVATE KEY')) {
      throw new SidecarError('KEY_UNSUPPORTED', `${label} holds a DSA key, which Roles Anywhere does not accept: use an RSA or ECDSA key`, {
        details: { source: label },
      });
    }
    const holds = types.length === 0 ? 'no PEM block' : `a ${types.join(' and a ')}`;
    throw new SidecarError('KEY_INVALID', `${label} holds ${holds}, not a private key: pass the key with --private-key`, { details: { source: label } });
  }
  if (keyBlocks.length > 1) {
    throw new SidecarError('KEY_INVALID', `${label} holds ${keyBlocks.length} private keys: keep only the key that belongs to the certificate`, {
      details: { source: label },
    });
  }
  const block = keyBlocks[0]!;
  if ((block.headers['Proc-Type'] ?? '').includes('ENCRYPTED')) {
    // Legacy PEM encryption derives the key with one round of MD5 (EVP_BytesToKey); the
    // official helper refuses it too.
    throw new SidecarError(
      'KEY_UNSUPPORTED',
      `the private key in ${label} uses legacy OpenSSL PEM encryption (Proc-Type: 4,ENCRYPTED): convert it with "openssl pkcs8 -topk8 -v2 aes-256-cbc -in <old> -out <new>" and pass the password as before`,
      { details: { source: label } },
    );
  }
  const type = PEM_KEY_TYPES[block.type]!;
  return loadKeyDer(block.der, type, block.type === 'ENCRYPTED PRIVATE KEY', label, password, opts);
}

function keyFromDer(data: Buffer, label: string, password: string | undefined, opts: PrivateKeyOptions): KeyObject {
  if (isPkcs12(data)) {
    throw new SidecarError(
      'KEY_INVALID',
      `${label} holds a PKCS#12 bundle, not a private key: pass the bundle with --certificate alone and drop --private-key`,
      { details: { source: label } },
    );
  }
  if (!isDerSequence(data)) {
    throw new SidecarError('KEY_INVALID', `${label} holds neither PEM nor DER: pass a PEM or DER private key with --private-key`, {
      details: { source: label },
    });
  }
  if (isEncryptedPkcs8Der(data)) return loadKeyDer(data, 'pkcs8', true, label, password, opts);
  let isCert = false;
  try {
    new X509Certificate(data);
    isCert = true;
  } catch {
    // not a certificate: carry on as a key
  }
  if (isCert) {
    throw new SidecarError('KEY_INVALID', `${label} holds a CERTIFICATE, not a private key: pass the key with --private-key`, { details: { source: label } });
  }
  // DER carries no label: try the encodings in order of how common they are.
  let first: unknown;
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return loadKeyDer(data, type, false, label, undefined, opts);
    } catch (e) {
      if (e instanceof SidecarError && e.code === 'KEY_UNSUPPORTED') throw e;
      first ??= e;
    }
  }
  throw new SidecarError('KEY_INVALID', `${label} is DER but not a PKCS#8, PKCS#1 or SEC1 private key: pass the key with --private-key`, {
    cause: first,
    details: { source: label },
  });
}

/**
 * A private key from PEM (the one key block among any others, e.g. a combined
 * certificate+key file) or DER. `password` decrypts an ENCRYPTED PRIVATE KEY and is
 * ignored for a plain key, as OpenSSL does.
 */
export function parsePrivateKey(data: Buffer, label: string, password?: string, opts: PrivateKeyOptions = {}): KeyObject {
  if (isPem(data)) {
    return keyFromPemBlocks(parsePemBlocks(data, { maxBlocks: MAX_PEM_BLOCKS, label }), label, password, opts);
  }
  return keyFromDer(data, label, password, opts);
}

/** True when PEM data holds a private-key block (a combined certificate+key file). */
export function pemHasPrivateKey(data: Buffer, label: string): boolean {
  if (!isPem(data)) return false;
  return parsePemBlocks(data, { maxBlocks: MAX_PEM_BLOCKS, label }).some(
    (b) => PEM_KEY_TYPES[b.type] !== undefined || b.type === 'OPENSSH PRIVATE KEY' || b.type === 'TSS2 PRIVATE KEY',
  );
}
