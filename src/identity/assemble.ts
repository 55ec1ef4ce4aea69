/**
 * The checks every identity passes whatever holds its key (a file, a PKCS#11 token, a TPM):
 * leaf not a CA, inside its validity window (with a warning when it expires soon), a chain
 * that links, and the frozen Identity the rest of the sidecar uses. Pure but for the logger.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import { isoSeconds as iso } from '../core/clock.js';
import type { Identity, KeySigner } from '../core/identity.js';
import type { Logger } from '../core/logger.js';
import {
  assertNotCa,
  checkValidity,
  EXPIRY_WARNING_MS,
  expiresSoon,
  orderChain,
  parseCertificates,
  serialToDecimal,
  subjectOf,
  validity,
} from './certificate.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** SHA-256 of the leaf DER, lowercase hex: stable across PEM/DER/PKCS#12 forms of the same certificate. */
export function certificateFingerprint(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

export interface AssembleInput {
  readonly leaf: X509Certificate;
  /** Other certificates that came with the leaf (a PEM bundle, a PKCS#12), in any order. */
  readonly others: readonly X509Certificate[];
  readonly intermediatesData?: Buffer;
  readonly intermediatesLabel?: string;
  readonly certLabel: string;
  readonly signer: KeySigner;
  readonly nowMs: number;
  readonly logger: Logger;
}

export function assembleIdentity(input: AssembleInput): Identity {
  const { leaf, certLabel, logger, nowMs } = input;
  assertNotCa(leaf, certLabel);
  checkValidity(leaf, nowMs, certLabel);
  const { notAfter } = validity(leaf);
  if (expiresSoon(leaf, nowMs, EXPIRY_WARNING_MS)) {
    logger.warn('certificate expires soon: renew it', {
      source: certLabel,
      subject: subjectOf(leaf),
      notAfter: iso(notAfter),
      daysLeft: Math.floor((notAfter - nowMs) / DAY_MS),
    });
  }
  const interLabel = input.intermediatesLabel ?? 'the intermediates';
  const fromIntermediates = input.intermediatesData === undefined ? [] : parseCertificates(input.intermediatesData, interLabel);
  const chainLabel = input.intermediatesData === undefined ? certLabel : `${certLabel} or ${interLabel}`;
  const chain = orderChain(leaf, [...input.others, ...fromIntermediates], chainLabel);
  for (const c of chain) {
    // Only a warning: the service's anchor may sit below an expired upper certificate, in
    // which case it never looks at it.
    const v = validity(c);
    if (nowMs > v.notAfter || nowMs < v.notBefore) {
      logger.warn('intermediate certificate outside its validity window: the service may refuse the chain', {
        subject: subjectOf(c),
        notBefore: iso(v.notBefore),
        notAfter: iso(v.notAfter),
      });
    }
  }
  return identityOf(leaf, chain, input.signer);
}

export function identityOf(leaf: X509Certificate, chain: X509Certificate[], signer: KeySigner): Identity {
  const { notBefore, notAfter } = validity(leaf);
  const identity: Identity = {
    certificate: leaf,
    chain: Object.freeze(chain),
    signer,
    serialDecimal: serialToDecimal(leaf.serialNumber),
    notBefore,
    notAfter,
    fingerprint: certificateFingerprint(leaf),
  };
  return Object.freeze(identity);
}
