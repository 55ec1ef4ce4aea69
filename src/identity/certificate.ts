/**
 * Certificates: parsing (PEM or DER), chain ordering, serial numbers and the validity rules
 * the service applies. Pure: bytes in, node X509Certificate objects out.
 */
import { X509Certificate } from 'node:crypto';
import { isoSeconds as iso } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import { MAX_PEM_BLOCKS } from './limits.js';
import { isPem, parsePemBlocks } from './pem.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const EXPIRY_WARNING_MS = 7 * DAY_MS;

const KEY_BLOCK_TYPES = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'EC PARAMETERS']);

/** A distinguished name for messages: one line, bounded (a hostile name must not flood a log). */
export function nameForMessage(name: string): string {
  const s = name.replace(/[\r\n]+/g, ', ');
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export function subjectOf(cert: X509Certificate): string {
  return nameForMessage(cert.subject);
}

function parseOne(der: Buffer, label: string, index: number): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (e) {
    const which = index === 0 ? 'the certificate' : `certificate #${index + 1}`;
    throw new SidecarError(
      'CERT_INVALID',
      `${label}: ${which} cannot be parsed as X.509 (${(e as Error).message}); check that the file holds X.509 certificates`,
      {
        cause: e,
        details: { source: label },
      },
    );
  }
}

/**
 * Certificates from PEM (every CERTIFICATE block, in file order; key blocks in a combined
 * file are skipped) or from a single DER certificate. Throws CERT_INVALID when there is none.
 */
export function parseCertificates(data: Buffer, label: string): X509Certificate[] {
  if (isPem(data)) {
    const blocks = parsePemBlocks(data, { maxBlocks: MAX_PEM_BLOCKS, label });
    const certs = blocks.filter((b) => b.type === 'CERTIFICATE' || b.type === 'X509 CERTIFICATE');
    if (certs.length === 0) {
      const types = [...new Set(blocks.map((b) => b.type))];
      const holds = types.length === 0 ? 'no PEM block' : `a ${types.join(' and a ')}`;
      const fix = types.some((t) => KEY_BLOCK_TYPES.has(t))
        ? 'pass the certificate with --certificate and the key with --private-key'
        : 'pass a PEM or DER X.509 certificate';
      throw new SidecarError('CERT_INVALID', `${label} holds ${holds}, not a certificate: ${fix}`, { details: { source: label } });
    }
    return certs.map((b, i) => parseOne(b.der, label, i));
  }
  return [parseOne(data, label, 0)];
}

/** Serial number in decimal, as the Authorization header's credential wants it. BigInt: serials are up to 20 bytes. */
export function serialToDecimal(hexSerial: string): string {
  const trimmed = hexSerial.trim();
  const negative = trimmed.startsWith('-');
  const hex = (negative ? trimmed.slice(1) : trimmed).replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) {
    throw new SidecarError('CERT_INVALID', `certificate serial number "${hexSerial.slice(0, 80)}" is not hexadecimal: check the certificate`);
  }
  const v = BigInt(`0x${hex}`).toString(10);
  return negative && v !== '0' ? `-${v}` : v;
}

/** Validity window in epoch milliseconds. */
export function validity(cert: X509Certificate): { notBefore: number; notAfter: number } {
  // Node 20 exposes only OpenSSL's text form ("Jan  1 00:00:00 2025 GMT"), which V8 parses.
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) {
    throw new SidecarError(
      'CERT_INVALID',
      `certificate ${subjectOf(cert)} has validity dates that cannot be read ("${cert.validFrom}", "${cert.validTo}"): reissue the certificate`,
    );
  }
  return { notBefore, notAfter };
}

/** Throws CERT_EXPIRED / CERT_NOT_YET_VALID: the service refuses a certificate outside its window. */
export function checkValidity(cert: X509Certificate, nowMs: number, label = 'the certificate'): void {
  const { notBefore, notAfter } = validity(cert);
  if (nowMs > notAfter) {
    throw new SidecarError(
      'CERT_EXPIRED',
      `certificate ${subjectOf(cert)} from ${label} expired at ${iso(notAfter)} (now ${iso(nowMs)}): renew the certificate`,
      { details: { source: label, notAfter: iso(notAfter) } },
    );
  }
  if (nowMs < notBefore) {
    throw new SidecarError(
      'CERT_NOT_YET_VALID',
      `certificate ${subjectOf(cert)} from ${label} is not valid before ${iso(notBefore)} (now ${iso(nowMs)}): check the system clock, or renew the certificate`,
      { details: { source: label, notBefore: iso(notBefore) } },
    );
  }
}

/** True when the certificate's notAfter is within `windowMs` of now. */
export function expiresSoon(cert: X509Certificate, nowMs: number, windowMs = EXPIRY_WARNING_MS): boolean {
  return validity(cert).notAfter - nowMs <= windowMs;
}

/** Roles Anywhere refuses a CA certificate as the end-entity certificate. */
export function assertNotCa(cert: X509Certificate, label: string): void {
  if (cert.ca) {
    throw new SidecarError(
      'CERT_INVALID',
      `certificate ${subjectOf(cert)} from ${label} is a CA certificate (basicConstraints CA:TRUE), which Roles Anywhere refuses as the end-entity: pass the workload (leaf) certificate with --certificate and CA certificates with --intermediates`,
      { details: { source: label } },
    );
  }
}

/** `issuer` signed `cert`: names/key identifiers agree and the signature verifies. */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    // A public key this runtime cannot load (e.g. ML-DSA on Node 20) cannot be checked.
    return false;
  }
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return issuedBy(cert, cert);
}

/** Identity of a certificate for deduplication: its DER. */
function derKey(cert: X509Certificate): string {
  return cert.raw.toString('base64');
}

/**
 * Orders `intermediates` from the one that issued `leaf` upward, as X-Amz-X509-Chain wants.
 * Duplicates (and copies of the leaf) are dropped. Self-signed roots are dropped too: the
 * service builds the path to its own copy of the trust anchor, so a root in the chain adds
 * nothing but header bytes (a root can only end a path, so dropping one never hides a path
 * to a different anchor); the official helper sends whatever the bundle holds, which the
 * service also accepts. A cross-signed alternative issuer of a certificate on the path is
 * kept, after the main path, since the service may need it to reach its anchor. Anything
 * else is an error (CHAIN_INVALID): the wrong file, or a sign that an intermediate is missing.
 */
export function orderChain(leaf: X509Certificate, intermediates: readonly X509Certificate[], label = 'the intermediates'): X509Certificate[] {
  const seen = new Set<string>([derKey(leaf)]);
  const pool: { cert: X509Certificate; root: boolean }[] = [];
  for (const c of intermediates) {
    const k = derKey(c);
    if (seen.has(k)) continue;
    seen.add(k);
    pool.push({ cert: c, root: isSelfSigned(c) });
  }
  const take = (i: number): { cert: X509Certificate; root: boolean } => pool.splice(i, 1)[0]!;
  const ordered: X509Certificate[] = [];
  let current = leaf;
  for (;;) {
    // Prefer an issuer that continues upward over a root that ends the path.
    let i = pool.findIndex((p) => !p.root && issuedBy(current, p.cert));
    if (i < 0) i = pool.findIndex((p) => issuedBy(current, p.cert));
    if (i < 0) break;
    const issuer = take(i);
    if (issuer.root) break;
    ordered.push(issuer.cert);
    current = issuer.cert;
  }
  for (let again = true; again;) {
    again = false;
    for (let i = 0; i < pool.length; i++) {
      const p = pool[i]!;
      if (issuedBy(leaf, p.cert) || ordered.some((c) => issuedBy(c, p.cert))) {
        take(i);
        if (!p.root) ordered.push(p.cert);
        again = true;
        break;
      }
    }
  }
  const stray = pool[0]?.cert;
  if (stray !== undefined) {
    throw new SidecarError(
      'CHAIN_INVALID',
      `certificate ${subjectOf(stray)} from ${label} does not chain to the leaf ${subjectOf(leaf)} (it was issued by ${nameForMessage(stray.issuer)}): remove it, or add the missing intermediate that links it`,
      { details: { source: label, stray: pool.length } },
    );
  }
  return ordered;
}
