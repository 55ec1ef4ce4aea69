/**
 * PBES2 decryption of an EncryptedPrivateKeyInfo (RFC 8018), used only to explain a failure:
 * when OpenSSL refuses an encrypted key with something other than "bad decrypt", either the
 * password was wrong and the padding check passed by chance (about 1 in 256; the garbage
 * then fails to decode) or the password was right and the key inside is of an algorithm this
 * runtime cannot load (ML-DSA before Node 24.7). OpenSSL's error codes do not tell the two
 * apart; decrypting and looking at the structure does.
 */
import { createDecipheriv, pbkdf2Sync, scryptSync } from 'node:crypto';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { loadAsn1, type Asn1Libraries } from './asn1-loader.js';
import { MAX_KEY_DERIVATION_COST } from './limits.js';

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const SCRYPT = '1.3.6.1.4.1.11591.4.11';
const PRF: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const CIPHERS: Readonly<Record<string, { name: string; keyLength: number }>> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};
// The KDF runs natively, after OpenSSL already ran it once for the same key; the caps only
// stop a hostile file from turning an error path into a long stall.
const SCRYPT_MAXMEM = 256 * 1024 * 1024;

export type Pbes2Result = { readonly status: 'ok'; readonly plain: Buffer } | { readonly status: 'bad-padding' } | { readonly status: 'unsupported' };

interface Pbes2Params {
  keyDerivationFunc: AlgorithmIdentifier;
  encryptionScheme: AlgorithmIdentifier;
}
interface Pbkdf2Params {
  salt: ArrayBuffer;
  iterationCount: number;
  keyLength?: number;
  prf?: AlgorithmIdentifier;
}
interface ScryptParams {
  salt: ArrayBuffer;
  costParameter: number;
  blockSize: number;
  parallelizationParameter: number;
  keyLength?: number;
}

/**
 * The RFC 8018 (PBES2, PBKDF2) and RFC 7914 (scrypt) parameter structures as asn1-schema
 * types. Declared with the library's decorator functions applied by hand, since the project
 * compiles without TypeScript's legacy decorators.
 */
function schemas(lib: Asn1Libraries) {
  const { AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } = lib.schema;
  const { AlgorithmIdentifier } = lib.x509;
  const seq = AsnType({ type: AsnTypeTypes.Sequence });
  const octets = AsnProp({ type: AsnPropTypes.OctetString });
  const integer = AsnProp({ type: AsnPropTypes.Integer });
  const optionalInteger = AsnProp({ type: AsnPropTypes.Integer, optional: true });

  class Pbes2 implements Pbes2Params {
    keyDerivationFunc = new AlgorithmIdentifier();
    encryptionScheme = new AlgorithmIdentifier();
  }
  AsnProp({ type: AlgorithmIdentifier })(Pbes2.prototype, 'keyDerivationFunc');
  AsnProp({ type: AlgorithmIdentifier })(Pbes2.prototype, 'encryptionScheme');
  seq(Pbes2);

  class Pbkdf2 implements Pbkdf2Params {
    salt = new ArrayBuffer(0);
    iterationCount = 0;
    keyLength?: number;
    prf?: AlgorithmIdentifier;
  }
  octets(Pbkdf2.prototype, 'salt'); // the CHOICE's otherSource is reserved by RFC 8018
  integer(Pbkdf2.prototype, 'iterationCount');
  optionalInteger(Pbkdf2.prototype, 'keyLength');
  AsnProp({ type: AlgorithmIdentifier, optional: true })(Pbkdf2.prototype, 'prf');
  seq(Pbkdf2);

  class Scrypt implements ScryptParams {
    salt = new ArrayBuffer(0);
    costParameter = 0;
    blockSize = 0;
    parallelizationParameter = 0;
    keyLength?: number;
  }
  octets(Scrypt.prototype, 'salt');
  integer(Scrypt.prototype, 'costParameter');
  integer(Scrypt.prototype, 'blockSize');
  integer(Scrypt.prototype, 'parallelizationParameter');
  optionalInteger(Scrypt.prototype, 'keyLength');
  seq(Scrypt);

  return { Pbes2, Pbkdf2, Scrypt };
}

/** A small positive INTEGER; asn1-schema gives larger ones as bytes. */
const count = (v: unknown, max: number): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= max ? v : undefined);

function deriveKey(lib: Asn1Libraries, types: ReturnType<typeof schemas>, kdf: AlgorithmIdentifier, password: string, keyLength: number): Buffer | undefined {
  if (kdf.parameters === null || kdf.parameters === undefined) return undefined;
  const { AsnConvert } = lib.schema;
  const { Pbkdf2, Scrypt } = types;
  if (kdf.algorithm === PBKDF2) {
    const p = AsnConvert.parse(kdf.parameters, Pbkdf2);
    const iterations = count(p.iterationCount, MAX_KEY_DERIVATION_COST);
    // prf DEFAULT hmacWithSHA1
    const prf = p.prf === undefined ? 'sha1' : PRF[p.prf.algorithm];
    if (iterations === undefined || prf === undefined) return undefined;
    return pbkdf2Sync(password, Buffer.from(p.salt), iterations, keyLength, prf);
  }
  if (kdf.algorithm === SCRYPT) {
    const p = AsnConvert.parse(kdf.parameters, Scrypt);
    const n = count(p.costParameter, MAX_KEY_DERIVATION_COST);
    const r = count(p.blockSize, 1024);
    const par = count(p.parallelizationParameter, 1024);
    if (n === undefined || r === undefined || par === undefined) return undefined;
    try {
      return scryptSync(password, Buffer.from(p.salt), keyLength, { N: n, r, p: par, maxmem: SCRYPT_MAXMEM });
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Decrypts a PBES2 EncryptedPrivateKeyInfo; `unsupported` for schemes this reader does not know. */
export function decryptPbes2(der: Buffer, password: string): Pbes2Result {
  const lib = loadAsn1();
  const { AsnConvert, OctetString } = lib.schema;
  let key: Buffer | undefined;
  let cipher: { name: string; keyLength: number } | undefined;
  let iv: Buffer;
  let data: Buffer;
  try {
    const info = AsnConvert.parse(der, lib.pkcs8.EncryptedPrivateKeyInfo);
    const alg = info.encryptionAlgorithm;
    if (alg.algorithm !== PBES2 || alg.parameters === null || alg.parameters === undefined) return { status: 'unsupported' };
    const types = schemas(lib);
    const params = AsnConvert.parse(alg.parameters, types.Pbes2);
    cipher = CIPHERS[params.encryptionScheme.algorithm];
    const ivParams = params.encryptionScheme.parameters;
    if (cipher === undefined || ivParams === null || ivParams === undefined) return { status: 'unsupported' };
    iv = Buffer.from(AsnConvert.parse(ivParams, OctetString).buffer);
    data = Buffer.from(info.encryptedData.buffer);
    key = deriveKey(lib, types, params.keyDerivationFunc, password, cipher.keyLength);
  } catch {
    // not DER of these structures
    return { status: 'unsupported' };
  }
  if (key === undefined) return { status: 'unsupported' };
  try {
    const d = createDecipheriv(cipher.name, key, iv);
    return { status: 'ok', plain: Buffer.concat([d.update(data), d.final()]) };
  } catch {
    return { status: 'bad-padding' };
  } finally {
    key.fill(0);
  }
}
