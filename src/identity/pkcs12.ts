/**
 * PKCS#12 (.p12/.pfx) bundles. Node has no PKCS#12 reader; node-forge verifies the MAC and
 * decrypts both OpenSSL 3's default bundles (PBES2: PBKDF2 + AES-256-CBC, SHA-256 MAC) and
 * legacy ones (3DES/RC2, SHA-1 MAC). Forge builds key objects for RSA only, so every key
 * goes to Node as PKCS#8 DER (docs/identity-formats.md, "PKCS#12").
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { SidecarError } from '../core/errors.js';
import { orderChain } from './certificate.js';
import { maxIterationCount } from './der.js';
import { MAX_KEY_DERIVATION_COST } from './limits.js';
import { loadForge } from './forge-loader.js';
import { loadKeyDer, PASSWORD_FIX, type PrivateKeyOptions } from './private-key.js';

export interface Pkcs12Contents {
  readonly leaf: X509Certificate;
  /** Intermediates in issuing order (see orderChain); roots dropped. */
  readonly chain: X509Certificate[];
  readonly key: KeyObject;
}

type Asn1 = forge.asn1.Asn1;

interface ForgeBag {
  cert?: forge.pki.Certificate | null;
  key?: forge.pki.PrivateKey | null;
  asn1?: Asn1;
}

function invalid(label: string, what: string, cause?: unknown): SidecarError {
  return new SidecarError('PKCS12_INVALID', `${label}: ${what}`, { cause, details: { source: label } });
}

function toBuffer(a: Asn1): Buffer {
  const forge = loadForge();
  return Buffer.from(forge.asn1.toDer(a).getBytes(), 'binary');
}

/**
 * The certificate's exact DER. Forge keeps the parsed ASN.1 only when it cannot build a
 * certificate object (non-RSA keys); for RSA it keeps the original TBSCertificate node but
 * would re-encode the outer signature algorithm with NULL parameters, breaking e.g. an RSA
 * leaf signed by an ECDSA CA. So the outer AlgorithmIdentifier is copied from the one inside
 * the TBSCertificate, which RFC 5280 section 4.1.1.2 requires to be identical (and OpenSSL
 * refuses certificates where it is not).
 */
function certificateDer(bag: ForgeBag, label: string): Buffer {
  const forge = loadForge();
  if (bag.asn1 !== undefined) return toBuffer(bag.asn1);
  const cert = bag.cert;
  const tbs = cert?.tbsCertificate;
  if (cert === null || cert === undefined || tbs === undefined || !Array.isArray(tbs.value)) {
    throw invalid(label, 'a certificate bag cannot be read; re-export the bundle');
  }
  const fields = tbs.value;
  const first = fields[0];
  // Skip the optional [0] version; then serialNumber, then signature AlgorithmIdentifier.
  const sigAlg = fields[first !== undefined && first.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 2 : 1];
  if (sigAlg === undefined) throw invalid(label, 'a certificate in the bundle has no signature algorithm; re-export the bundle');
  const { asn1 } = forge;
  const outer = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    sigAlg,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + (cert.signature as string)),
  ]);
  return toBuffer(outer);
}

function keyDer(bag: ForgeBag): Buffer | undefined {
  const forge = loadForge();
  if (bag.asn1 !== undefined) return toBuffer(bag.asn1);
  if (bag.key !== null && bag.key !== undefined) {
    const pki = forge.pki as typeof forge.pki & { wrapRsaPrivateKey(a: Asn1): Asn1 };
    return toBuffer(pki.wrapRsaPrivateKey(pki.privateKeyToAsn1(bag.key)));
  }
  return undefined;
}

const PASSWORD_ERRORS = /MAC could not be verified|Unable to decrypt|Failed to decrypt|Invalid password/i;

type Attempt = { ok: true; pfx: forge.pkcs12.Pkcs12Pfx } | { ok: false; passwordProblem: boolean; error: unknown };

function attempt(data: Buffer, candidate: string | null, label: string): Attempt {
  const forge = loadForge();
  let asn1: Asn1;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(data.toString('binary')));
  } catch (e) {
    throw invalid(label, 'not a PKCS#12 bundle (its ASN.1 cannot be decoded); pass a .p12/.pfx file, or a PEM certificate with --private-key', e);
  }
  // A bundle without a MAC cannot tell a wrong password from damage: a wrong key decrypts
  // to garbage that fails later, anywhere.
  const hasMac = Array.isArray(asn1.value) && asn1.value.length > 2;
  try {
    // strict = true, passed explicitly: forge reads a null second argument as options.
    const pfx = forge.pkcs12.pkcs12FromAsn1(asn1, true, candidate as string);
    return { ok: true, pfx };
  } catch (e) {
    const msg = (e as Error).message ?? '';
    if (/Cannot read PKCS#12 PFX|version other than 3/.test(msg)) {
      throw invalid(label, 'not a PKCS#12 bundle; pass a .p12/.pfx file, or a PEM certificate with --private-key', e);
    }
    if (/Unsupported OID|Unsupported PRF|unsupported MAC|Unsupported PKCS#12 contentType|public-key integrity|password integrity mode/i.test(msg)) {
      throw invalid(
        label,
        `the bundle uses a format this reader does not support (${msg.slice(0, 120)}); re-export it with "openssl pkcs12 -export" defaults`,
        e,
      );
    }
    return { ok: false, passwordProblem: PASSWORD_ERRORS.test(msg) || !hasMac, error: e };
  }
}

function getBags(pfx: forge.pkcs12.Pkcs12Pfx, bagType: string): ForgeBag[] {
  return pfx.getBags({ bagType })[bagType] ?? [];
}

/**
 * Leaf, chain and key from a PKCS#12 bundle. With no password (or an empty one) both the
 * empty password and no password at all are tried, as OpenSSL does: tools disagree on which
 * an "unprotected" bundle uses. The leaf is the certificate that matches the key (a
 * non-CA one first); the other certificates are its chain.
 */
export function parsePkcs12(data: Buffer, label: string, password?: string, opts: PrivateKeyOptions = {}): Pkcs12Contents {
  const forge = loadForge();
  const iterations = maxIterationCount(data);
  if (iterations > MAX_KEY_DERIVATION_COST) {
    throw invalid(
      label,
      `the bundle asks for ${iterations} key-derivation iterations, more than the ${MAX_KEY_DERIVATION_COST} this reader allows; re-export it with "openssl pkcs12 -export" defaults`,
    );
  }
  const candidates: (string | null)[] = password === undefined || password === '' ? ['', null] : [password];
  let pfx: forge.pkcs12.Pkcs12Pfx | undefined;
  let lastError: Attempt | undefined;
  for (const c of candidates) {
    const r = attempt(data, c, label);
    if (r.ok) {
      pfx = r.pfx;
      break;
    }
    lastError = r;
    if (!r.passwordProblem) break;
  }
  if (pfx === undefined) {
    const failure = lastError as Extract<Attempt, { ok: false }>;
    if (!failure.passwordProblem) {
      throw invalid(label, `the bundle cannot be read (${((failure.error as Error).message ?? '').slice(0, 120)}); re-export it`, failure.error);
    }
    if (password === undefined) {
      throw new SidecarError('KEY_PASSWORD_REQUIRED', `${label} is a password-protected PKCS#12 bundle and no password was given: ${PASSWORD_FIX}`, {
        details: { source: label },
      });
    }
    throw new SidecarError(
      'KEY_PASSWORD_WRONG',
      `the password does not open the PKCS#12 bundle ${label}: check the value given by --pkcs8-password, ROLESANYWHERE_PKCS8_PASSWORD or --pkcs8-password-file`,
      {
        details: { source: label },
      },
    );
  }

  const certs: X509Certificate[] = [];
  for (const bag of getBags(pfx, forge.pki.oids.certBag!)) {
    const der = certificateDer(bag, label);
    try {
      certs.push(new X509Certificate(der));
    } catch (e) {
      throw invalid(label, 'a certificate in the bundle cannot be parsed as X.509; re-export the bundle', e);
    }
  }
  const keyBags = [...getBags(pfx, forge.pki.oids.pkcs8ShroudedKeyBag!), ...getBags(pfx, forge.pki.oids.keyBag!)];
  if (keyBags.length === 0) {
    throw invalid(label, 'the bundle holds no private key; export it with its key ("openssl pkcs12 -export -in cert.pem -inkey key.pem ...")');
  }
  if (certs.length === 0) {
    throw invalid(label, 'the bundle holds no certificate; export it with the certificate ("openssl pkcs12 -export -in cert.pem -inkey key.pem ...")');
  }
  const keys: KeyObject[] = [];
  for (const bag of keyBags) {
    const der = keyDer(bag);
    if (der === undefined) throw invalid(label, 'a key bag in the bundle is empty; re-export the bundle');
    keys.push(loadKeyDer(der, 'pkcs8', false, label, undefined, opts));
  }
  for (const key of keys) {
    const matching = certs.filter((c) => c.checkPrivateKey(key));
    const leaf = matching.find((c) => !c.ca) ?? matching[0];
    if (leaf === undefined) continue;
    const rest = certs.filter((c) => c !== leaf);
    return { leaf, chain: orderChain(leaf, rest, label), key };
  }
  throw new SidecarError(
    'KEY_CERT_MISMATCH',
    `the private key in ${label} matches none of its ${certs.length} certificate(s): re-export the bundle with the key that belongs to the certificate`,
    { details: { source: label } },
  );
}
