/**
 * PBES2 decryption of an EncryptedPrivateKeyInfo (RFC 8018), used only to explain a failure:
 * when OpenSSL refuses an encrypted key with something other than "bad decrypt", either the
 * password was wrong and the padding check passed by chance (about 1 in 256; the garbage
 * then fails to decode) or the password was right and the key inside is of an algorithm this
 * runtime cannot load (ML-DSA before Node 24.7). OpenSSL's error codes do not tell the two
 * apart; decrypting and looking at the structure does.
 */
import { createDecipheriv, pbkdf2Sync, scryptSync } from 'node:crypto';
import { children, oidToString, readTlv, smallInteger, TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, type Tlv } from './der.js';
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

function oidOf(der: Buffer, algId: Tlv | undefined): { oid: string; params: Tlv | undefined } | undefined {
  if (algId === undefined || algId.tag !== TAG_SEQUENCE) return undefined;
  const [o, params] = children(der, algId, 2);
  if (o === undefined || o.tag !== TAG_OID) return undefined;
  return { oid: oidToString(der.subarray(o.start, o.end)), params };
}

function deriveKey(der: Buffer, kdf: { oid: string; params: Tlv | undefined }, password: string, keyLength: number): Buffer | undefined {
  if (kdf.params === undefined || kdf.params.tag !== TAG_SEQUENCE) return undefined;
  const p = children(der, kdf.params, 5);
  const salt = p[0];
  if (salt === undefined || salt.tag !== TAG_OCTET_STRING) return undefined;
  const saltBytes = der.subarray(salt.start, salt.end);
  if (kdf.oid === PBKDF2) {
    const iterations = smallInteger(der, p[1]);
    if (iterations === undefined || iterations < 1 || iterations > MAX_KEY_DERIVATION_COST) return undefined;
    // Optional keyLength INTEGER, then optional prf AlgorithmIdentifier (default hmacWithSHA1).
    const prfTlv = p.slice(2).find((t) => t.tag === TAG_SEQUENCE);
    const prf = prfTlv === undefined ? 'sha1' : PRF[oidOf(der, prfTlv)?.oid ?? ''];
    if (prf === undefined) return undefined;
    return pbkdf2Sync(password, saltBytes, iterations, keyLength, prf);
  }
  if (kdf.oid === SCRYPT) {
    const [n, r, par] = [smallInteger(der, p[1]), smallInteger(der, p[2]), smallInteger(der, p[3])];
    if (n === undefined || r === undefined || par === undefined || p[1]?.tag !== TAG_INTEGER || n > MAX_KEY_DERIVATION_COST) return undefined;
    try {
      return scryptSync(password, saltBytes, keyLength, { N: n, r, p: par, maxmem: SCRYPT_MAXMEM });
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Decrypts a PBES2 EncryptedPrivateKeyInfo; `unsupported` for schemes this reader does not know. */
export function decryptPbes2(der: Buffer, password: string): Pbes2Result {
  const top = readTlv(der, 0);
  if (top === undefined || top.tag !== TAG_SEQUENCE) return { status: 'unsupported' };
  const [algId, data] = children(der, top, 2);
  const alg = oidOf(der, algId);
  if (alg === undefined || alg.oid !== PBES2 || alg.params === undefined || data === undefined || data.tag !== TAG_OCTET_STRING) {
    return { status: 'unsupported' };
  }
  const [kdfTlv, encTlv] = children(der, alg.params, 2);
  const kdf = oidOf(der, kdfTlv);
  const enc = oidOf(der, encTlv);
  const cipher = enc === undefined ? undefined : CIPHERS[enc.oid];
  if (kdf === undefined || enc === undefined || cipher === undefined || enc.params?.tag !== TAG_OCTET_STRING) return { status: 'unsupported' };
  const key = deriveKey(der, kdf, password, cipher.keyLength);
  if (key === undefined) return { status: 'unsupported' };
  try {
    const d = createDecipheriv(cipher.name, key, der.subarray(enc.params.start, enc.params.end));
    return { status: 'ok', plain: Buffer.concat([d.update(der.subarray(data.start, data.end)), d.final()]) };
  } catch {
    return { status: 'bad-padding' };
  } finally {
    key.fill(0);
  }
}
