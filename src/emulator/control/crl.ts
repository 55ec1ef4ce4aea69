/**
 * Certificate revocation lists for the emulated trust anchors (pure apart from the async
 * WebCrypto signature check). ImportCrl takes the X.509 v3 CRL as a PEM or DER blob; the
 * service checks CreateSession certificates against a trust anchor's enabled CRLs
 * (https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/API_ImportCrl.html).
 */
import type { X509Certificate } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parsePemBlocks } from '../../identity/pem.js';
import type { RevocationList } from '../config.js';

/** ImportCrl's documented limit on crlData (Length Constraints: 1 to 300000). */
export const MAX_CRL_BYTES = 300_000;

export interface ParsedCrl {
  readonly crl: x509.X509Crl;
  readonly der: Buffer;
  readonly issuerDerHex: string;
  readonly revokedSerials: ReadonlySet<string>;
}

export function normalizeSerialHex(hex: string): string {
  const h = hex.toLowerCase().replace(/^0+/, '');
  return h === '' ? '0' : h;
}

// RFC 7468 names the label "X509 CRL"; some tools (and @peculiar/x509) write "CRL".
const CRL_LABELS = new Set(['X509 CRL', 'CRL']);

/** Parses a CRL given as PEM (`BEGIN X509 CRL`) or DER; undefined when it is neither. */
export function parseCrl(data: Buffer): ParsedCrl | undefined {
  if (data.length === 0 || data.length > MAX_CRL_BYTES) return undefined;
  let der = data;
  const text = data.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN')) {
    // The strict reader of every PEM input: a damaged or second block is refused, not skipped.
    let blocks;
    try {
      blocks = parsePemBlocks(data, { maxBlocks: 1, label: 'crlData', tooManyBlocks: 'one CRL per import' });
    } catch {
      return undefined;
    }
    if (blocks.length !== 1 || !CRL_LABELS.has(blocks[0]!.type)) return undefined;
    der = blocks[0]!.der;
  }
  try {
    const crl = new x509.X509Crl(der);
    const revoked = new Set<string>();
    for (const e of crl.entries) revoked.add(normalizeSerialHex(e.serialNumber));
    return { crl, der, issuerDerHex: Buffer.from(crl.issuerName.toArrayBuffer()).toString('hex'), revokedSerials: revoked };
  } catch {
    return undefined;
  }
}

/** The certificate of `candidates` whose key verifies the CRL's signature, if any. */
export async function crlSigner(crl: ParsedCrl, candidates: readonly X509Certificate[]): Promise<X509Certificate | undefined> {
  for (const cert of candidates) {
    const lib = new x509.X509Certificate(cert.raw);
    if (Buffer.from(lib.subjectName.toArrayBuffer()).toString('hex') !== crl.issuerDerHex) continue;
    try {
      const ok = await crl.crl.verify({ publicKey: lib.publicKey }, webcrypto);
      if (ok) return cert;
    } catch {
      // an algorithm WebCrypto cannot verify: not this signer
    }
  }
  return undefined;
}

/**
 * The first revocation of a chain certificate (leaf first, then intermediates) by one of
 * `lists` whose issuer is that certificate's issuer; a one-line reason, or undefined.
 */
export function revocationOf(chain: readonly X509Certificate[], lists: readonly RevocationList[]): string | undefined {
  if (lists.length === 0) return undefined;
  for (const [i, cert] of chain.entries()) {
    const lib = new x509.X509Certificate(cert.raw);
    const issuer = Buffer.from(lib.issuerName.toArrayBuffer()).toString('hex');
    const serial = normalizeSerialHex(cert.serialNumber);
    for (const l of lists) {
      if (l.issuerDerHex === issuer && l.revokedSerials.has(serial)) {
        const what = i === 0 ? 'the signing certificate' : `intermediate #${i}`;
        return `${what} (serial ${serial}) is revoked by CRL "${l.name}" (${l.crlArn}) of the trust anchor`;
      }
    }
  }
  return undefined;
}
