/**
 * Certificate path validation as the service does it for CreateSession (pure; the time is
 * an argument): leaf -> intermediates in the order sent -> one of the trust anchor's
 * roots. Each link is checked for name chaining and signature; every certificate must be
 * inside its validity window; every issuer must be a CA allowed to sign certificates; the
 * leaf must not be a CA and, when it says so, must allow digital signatures.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * The service takes a bounded chain header; five intermediates is deeper than any public
 * or private PKI in practice, and bounds the signature checks a request can cost.
 */
export const MAX_INTERMEDIATES = 5;

export type ChainResult = { ok: true; root: X509Certificate } | { ok: false; message: string };

interface Parsed {
  readonly cert: X509Certificate;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  /** undefined when the certificate has no keyUsage extension. */
  readonly keyUsage: number | undefined;
}

function parse(cert: X509Certificate): Parsed {
  const p = new x509.X509Certificate(cert.raw);
  const bc = p.getExtension(x509.BasicConstraintsExtension);
  const ku = p.getExtension(x509.KeyUsagesExtension);
  return {
    cert,
    notBefore: p.notBefore.getTime(),
    notAfter: p.notAfter.getTime(),
    isCa: bc?.ca === true,
    pathLength: bc?.pathLength,
    keyUsage: ku?.usages,
  };
}

/** `CN=..., O=...` on one line for messages (subjects are not secret). */
export function subjectOf(cert: X509Certificate): string {
  const s = cert.subject.replace(/\n/g, ', ');
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

export function fingerprintOf(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

function validityProblem(p: Parsed, role: string, nowMs: number): string | undefined {
  if (nowMs < p.notBefore) {
    return `the ${role} certificate "${subjectOf(p.cert)}" is not valid yet (notBefore ${new Date(p.notBefore).toISOString()})`;
  }
  if (nowMs > p.notAfter) {
    return `the ${role} certificate "${subjectOf(p.cert)}" has expired (notAfter ${new Date(p.notAfter).toISOString()})`;
  }
  return undefined;
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Validates the path. `intermediates` are in the order the client sent them (the one that
 * issued the leaf first). A copy of the root itself at the end of the chain is tolerated,
 * since bundles often include it; it is then treated as the anchor.
 */
export function validateChain(leaf: X509Certificate, intermediates: readonly X509Certificate[], roots: readonly X509Certificate[], nowMs: number): ChainResult {
  if (intermediates.length > MAX_INTERMEDIATES + 1) {
    return {
      ok: false,
      message: `the certificate chain holds ${intermediates.length} certificates, more than the ${MAX_INTERMEDIATES} intermediates accepted`,
    };
  }
  let chain = [...intermediates];
  const last = chain[chain.length - 1];
  if (last !== undefined && roots.some((r) => r.raw.equals(last.raw))) chain = chain.slice(0, -1);
  if (chain.length > MAX_INTERMEDIATES) {
    return { ok: false, message: `the certificate chain holds ${chain.length} intermediates, more than the ${MAX_INTERMEDIATES} accepted` };
  }

  const leafP = parse(leaf);
  if (leafP.isCa) {
    return {
      ok: false,
      message: `the signing certificate "${subjectOf(leaf)}" is a CA certificate (basicConstraints cA=true); sign with an end-entity certificate`,
    };
  }
  if (leafP.keyUsage !== undefined && (leafP.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) {
    return { ok: false, message: `the signing certificate "${subjectOf(leaf)}" has a keyUsage extension without digitalSignature` };
  }
  const leafProblem = validityProblem(leafP, 'signing', nowMs);
  if (leafProblem !== undefined) return { ok: false, message: leafProblem };

  let child = leafP;
  for (let i = 0; i < chain.length; i++) {
    const issuer = parse(chain[i]!);
    const role = `intermediate #${i + 1}`;
    if (!signedBy(child.cert, issuer.cert)) {
      return {
        ok: false,
        message: `"${subjectOf(child.cert)}" is not issued by ${role} "${subjectOf(issuer.cert)}"; send X-Amz-X509-Chain in issuing order, starting with the CA that issued the leaf`,
      };
    }
    const caProblem = issuerProblem(issuer, role, i, nowMs);
    if (caProblem !== undefined) return { ok: false, message: caProblem };
    child = issuer;
  }

  for (const root of roots) {
    if (!signedBy(child.cert, root)) continue;
    const rootP = parse(root);
    const problem = issuerProblem(rootP, 'trust anchor', chain.length, nowMs);
    if (problem !== undefined) return { ok: false, message: problem };
    return { ok: true, root };
  }
  const top = chain.length === 0 ? 'the signing certificate' : `the last chain certificate "${subjectOf(child.cert)}"`;
  return {
    ok: false,
    message: `untrusted signing certificate: ${top} (issuer "${child.cert.issuer.replace(/\n/g, ', ')}") is not issued by any CA of the trust anchor`,
  };
}

/** `below` is the number of intermediates between this CA and the leaf. */
function issuerProblem(p: Parsed, role: string, below: number, nowMs: number): string | undefined {
  if (!p.isCa) return `the ${role} certificate "${subjectOf(p.cert)}" is not a CA (basicConstraints cA is not set)`;
  if (p.keyUsage !== undefined && (p.keyUsage & x509.KeyUsageFlags.keyCertSign) === 0) {
    return `the ${role} certificate "${subjectOf(p.cert)}" has a keyUsage extension without keyCertSign`;
  }
  if (p.pathLength !== undefined && below > p.pathLength) {
    return `the ${role} certificate "${subjectOf(p.cert)}" allows ${p.pathLength} intermediates below it (pathLenConstraint) but the chain has ${below}`;
  }
  return validityProblem(p, role, nowMs);
}
