/**
 * Identities whose key is held by hardware: a PKCS#11 token (`pkcs11:` URIs) or a TPM (a
 * TSS2 PEM key file, or `handle:0x81...`). Loaded only when a configuration names one, so
 * file-key users never load the PKCS#11 binding. The same checks as for file keys follow
 * (assemble.ts), and the signer asks the hardware for every signature.
 */
import { X509Certificate } from 'node:crypto';
import { SidecarError } from '../core/errors.js';
import type { Identity, KeySigner } from '../core/identity.js';
import { nullLogger } from '../core/logger.js';
import { verifyBytes } from './key-signer.js';
import { assembleIdentity } from './assemble.js';
import { parseCertificates, subjectOf } from './certificate.js';
import { readInput } from './input.js';
import { MAX_PASSWORD_BYTES } from './limits.js';
import type { HardwareOptions, KeyStoreRef, Pkcs11Ref, ResolvedInputs } from './load.js';
import { Pkcs11Sessions, readTokenCertificate, tokenSigner } from './pkcs11/identity.js';
import type { TokenSession } from './pkcs11/token.js';
import { describePkcs11Uri, type Pkcs11Uri } from './pkcs11/uri.js';
import { createTpmSigner } from './tpm/signer.js';

/** AWS's helper's default: p11-kit's proxy, which reaches every module p11-kit has registered. */
export const DEFAULT_PKCS11_LIBRARY = 'p11-kit-proxy.so';
const PROBE = Buffer.from('rolesanywhere-sidecar key check', 'utf8');

async function readPinFile(path: string): Promise<string> {
  const { data } = await readInput({ kind: 'file', path }, { maxBytes: MAX_PASSWORD_BYTES, env: {}, flag: 'pin-source' });
  return data.toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The user PIN, from (in order) pin-value= in the URI, pin-source= (a file), --pkcs11-pin /
 * ROLESANYWHERE_PKCS11_PIN, or a prompt when a terminal is attached. Remembered once given,
 * so a re-opened session logs in again without asking.
 */
function pinProvider(uri: Pkcs11Uri, hw: HardwareOptions, what: string): () => Promise<string | undefined> {
  let remembered: string | undefined;
  return async () => {
    if (uri.pinValue !== undefined) return uri.pinValue;
    if (uri.pinSource !== undefined) return readPinFile(uri.pinSource);
    if (hw.pin !== undefined) return hw.pin;
    if (remembered !== undefined) return remembered;
    remembered = await hw.prompt?.(`PIN for ${what}: `);
    return remembered;
  };
}

function sessionFor(ref: Pkcs11Ref, hw: HardwareOptions): TokenSession {
  const cache = (hw.cache.pkcs11 ??= new Pkcs11Sessions());
  const lib = ref.uri.modulePath ?? hw.pkcs11Lib ?? DEFAULT_PKCS11_LIBRARY;
  return cache.session(lib, ref.uri, pinProvider(ref.uri, hw, describePkcs11Uri(ref.uri)));
}

function tpmPassword(hw: HardwareOptions, key: Extract<KeyStoreRef, { kind: 'tpm' }>): string | undefined {
  if (hw.noTpmKeyPassword === true) return undefined;
  if (hw.tpmKeyPassword === undefined && key.emptyAuth === false) {
    // openssl would otherwise ask on a terminal nobody watches, or fail obscurely.
    throw new SidecarError('TPM_AUTH_FAILED', `the TPM key ${key.label} needs its password: pass --tpm-key-password (or ROLESANYWHERE_TPM_KEY_PASSWORD)`);
  }
  return hw.tpmKeyPassword;
}

function tpmPasswordField(hw: HardwareOptions, key: Extract<KeyStoreRef, { kind: 'tpm' }>): { password?: string } {
  const pw = tpmPassword(hw, key);
  return pw === undefined ? {} : { password: pw };
}

/** Certificate and intermediates in hand (read from files or found on the token), plus where the key is. */
export interface HardwareInputs {
  readonly certificate: Pkcs11Ref | { readonly data: Buffer; readonly label: string };
  readonly key?: KeyStoreRef;
  readonly inputs: ResolvedInputs;
}

async function certificateFrom(
  inp: HardwareInputs,
  hw: HardwareOptions,
): Promise<{ leaf: X509Certificate; others: X509Certificate[]; label: string; tokenId?: Buffer; session?: TokenSession }> {
  if ('kind' in inp.certificate) {
    const session = sessionFor(inp.certificate, hw);
    const c = await readTokenCertificate(session, { ...inp.certificate.uri, type: 'cert' });
    return { leaf: c.certificate, others: [], label: c.label, tokenId: c.object.id, session };
  }
  const certs = parseCertificates(inp.certificate.data, inp.certificate.label);
  return { leaf: certs[0]!, others: certs.slice(1), label: inp.certificate.label };
}

async function signerFor(
  inp: HardwareInputs,
  hw: HardwareOptions,
  cert: Awaited<ReturnType<typeof certificateFrom>>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<KeySigner> {
  const key = inp.key;
  if (key === undefined || key.kind === 'pkcs11') {
    if (key === undefined && cert.session === undefined) {
      throw new SidecarError('CONFIG_INVALID', `no private key: ${cert.label} holds only certificates; pass the key with --private-key`);
    }
    const uri = key?.uri ?? (inp.certificate as Pkcs11Ref).uri;
    const session = key !== undefined ? sessionFor(key, hw) : cert.session!;
    return tokenSigner({
      uri: { ...uri, type: 'private' },
      session,
      certificate: cert.leaf,
      ...(cert.tokenId !== undefined && key === undefined ? { certificateId: cert.tokenId } : {}),
      explicit: key !== undefined && (key.uri.object !== undefined || key.uri.id !== undefined),
      contextPin: async () => (hw.reusePin === true ? session.pin() : hw.prompt?.(`PIN for the key on ${describePkcs11Uri(uri)} (asked at every signature): `)),
      certLabel: cert.label,
    });
  }
  const { signer, publicKey } = await createTpmSigner({ key: key.key, label: key.label, env, ...tpmPasswordField(hw, key) });
  const spki = (k: typeof publicKey): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(publicKey).equals(spki(cert.leaf.publicKey))) {
    throw new SidecarError(
      'KEY_CERT_MISMATCH',
      `the TPM key ${key.label} does not belong to certificate ${subjectOf(cert.leaf)} from ${cert.label}: use the certificate issued for this key`,
    );
  }
  // One signature the certificate verifies: the TPM really signs with this key.
  if (!verifyBytes(signer.kind, cert.leaf.publicKey, PROBE, await signer.sign(PROBE))) {
    throw new SidecarError('KEY_CERT_MISMATCH', `the TPM key ${key.label} made a signature that does not verify with certificate ${subjectOf(cert.leaf)}`);
  }
  return signer;
}

/** The whole identity: certificate (file or token), hardware signer, checks, chain. */
export async function loadHardwareIdentity(
  inp: HardwareInputs,
  hw: HardwareOptions,
  deps: { nowMs: number; logger?: import('../core/logger.js').Logger; env: Readonly<Record<string, string | undefined>> },
): Promise<Identity> {
  const cert = await certificateFrom(inp, hw);
  const signer = await signerFor(inp, hw, cert, deps.env);
  return assembleIdentity({
    leaf: cert.leaf,
    others: cert.others,
    certLabel: cert.label,
    signer,
    nowMs: deps.nowMs,
    logger: deps.logger ?? nullLogger,
    ...(inp.inputs.inter !== undefined ? { intermediatesData: inp.inputs.inter.data, intermediatesLabel: inp.inputs.inter.label } : {}),
  });
}

/** The certificate only, for read-certificate-data and the rotation watcher. */
export async function loadHardwareCertificate(ref: Pkcs11Ref, hw: HardwareOptions): Promise<{ leaf: X509Certificate; label: string }> {
  const c = await readTokenCertificate(sessionFor(ref, hw), { ...ref.uri, type: 'cert' });
  return { leaf: c.certificate, label: c.label };
}

/**
 * A signer for sign-string: a TPM key on its own, or a token key with its certificate (the
 * certificate tells the key type): the --certificate given, or the one beside the key.
 */
export async function loadHardwareSigner(
  key: KeyStoreRef,
  certificate: HardwareInputs['certificate'] | undefined,
  hw: HardwareOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<KeySigner> {
  if (key.kind === 'tpm') {
    return (await createTpmSigner({ key: key.key, label: key.label, env, ...tpmPasswordField(hw, key) })).signer;
  }
  const cert = await certificateFrom({ certificate: certificate ?? { kind: 'pkcs11', uri: { ...key.uri, type: 'cert' } }, key, inputs: {} }, hw);
  return signerFor({ certificate: certificate ?? key, key, inputs: {} }, hw, cert, env);
}
