/**
 * Certificate + key (+ intermediates) -> a checked Identity. `buildIdentity` is the pure
 * core (bytes in); `loadIdentity` reads the inputs first. The checks are the ones the
 * service would otherwise fail on with an opaque AccessDenied: key matches certificate,
 * validity window, leaf not a CA, key type the service takes, a chain that links.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { assembleIdentity, certificateFingerprint, identityOf } from './assemble.js';
export { certificateFingerprint } from './assemble.js';
import { isoSeconds as iso, systemClock, type Clock } from '../core/clock.js';
import { SidecarError } from '../core/errors.js';
import type { Identity, KeyKind, KeySigner } from '../core/identity.js';
import type { Pkcs11Sessions } from './pkcs11/identity.js';
import { describePkcs11Uri, type Pkcs11Uri } from './pkcs11/uri.js';
import { isTss2Pem, tss2EmptyAuth } from './tpm/key-ref.js';
import { nullLogger, type Logger } from '../core/logger.js';
import { createKeySigner, signBytes, verifyBytes } from './key-signer.js';
import { nameForMessage, orderChain, parseCertificates, serialToDecimal, subjectOf, validity } from './certificate.js';
import { isByteInput, isStdin, readInput, sourceLabel, type InputData, type InputSource } from './input.js';
import { decodeInWorker, needsKeyDerivation } from './key-derivation.js';
import { MAX_INPUT_BYTES, MAX_PASSWORD_BYTES } from './limits.js';
import { isPem } from './pem.js';
import { parsePkcs12 } from './pkcs12.js';
import { parsePrivateKey, pemHasPrivateKey } from './private-key.js';
import { hasPkcs12Extension, isPkcs12 } from './sniff.js';

export type PasswordSource = { kind: 'value'; value: string } | { kind: 'file'; path: string };

/** A certificate or key on a PKCS#11 token. */
export interface Pkcs11Ref {
  readonly kind: 'pkcs11';
  readonly uri: Pkcs11Uri;
}

/** A key held by hardware: on a PKCS#11 token, or in a TPM (a TSS2 PEM file or a persistent handle). */
export type KeyStoreRef = Pkcs11Ref | { readonly kind: 'tpm'; readonly key: string; readonly label: string; readonly emptyAuth?: boolean };

/** Settings for hardware-held keys, and the token sessions kept across loads. */
export interface HardwareOptions {
  readonly pkcs11Lib?: string;
  readonly pin?: string;
  readonly reusePin?: boolean;
  readonly tpmKeyPassword?: string;
  readonly noTpmKeyPassword?: boolean;
  /** Asks on the terminal (absent when none is attached). */
  readonly prompt?: (question: string) => Promise<string | undefined>;
  /** Filled by the hardware loader; one object per configured identity. */
  readonly cache: { pkcs11?: Pkcs11Sessions };
}

export interface IdentityConfig {
  readonly certificate: InputSource | Pkcs11Ref;
  /** Absent for a PKCS#12 bundle or a combined certificate+key PEM (or a key beside a token's certificate). */
  readonly privateKey?: InputSource | KeyStoreRef;
  readonly intermediates?: InputSource;
  readonly password?: PasswordSource;
  readonly hardware?: HardwareOptions;
}

/** How messages name a configured input: `file /x.pem`, `env NAME`, `stdin`, or the PKCS#11 URI (without its PIN). */
export function inputLabel(s: InputSource | KeyStoreRef): string {
  if (isByteInput(s)) return sourceLabel(s);
  return s.kind === 'pkcs11' ? describePkcs11Uri(s.uri) : s.label;
}

function hardwareOf(cfg: { hardware?: HardwareOptions }): HardwareOptions {
  return cfg.hardware ?? { cache: {} };
}

/** What `sign-string` needs: a key, or a certificate input that carries one (PKCS#12, combined PEM). */
export type KeyConfig = Omit<IdentityConfig, 'certificate' | 'intermediates'> & { readonly certificate?: InputSource | Pkcs11Ref };

export interface LoadIdentityDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** The environment for `--certificate-env`-style sources; config/ passes process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdin?: NodeJS.ReadableStream;
  /** For the ML-DSA message; defaults to process.version. */
  readonly nodeVersion?: string;
}

export interface BuildIdentityInput {
  readonly certData: Buffer;
  readonly certLabel: string;
  readonly keyData?: Buffer;
  readonly keyLabel?: string;
  readonly intermediatesData?: Buffer;
  readonly intermediatesLabel?: string;
  readonly password?: string;
  readonly nowMs: number;
  readonly logger?: Logger;
  readonly nodeVersion?: string;
}

/** Names the source in key-type errors, which createKeySigner raises without one. */
function signerFor(key: KeyObject, label: string): KeySigner {
  try {
    return createKeySigner(key);
  } catch (e) {
    if (e instanceof SidecarError) {
      throw new SidecarError(e.code, `${label}: ${e.message}`, { cause: e, details: { ...e.details, source: label } });
    }
    throw e;
  }
}

/**
 * The pure core: certificate bytes (PEM with optional chain and key blocks, DER, or
 * PKCS#12), optional key bytes, optional intermediates -> Identity. Throws SidecarError.
 * Synchronous, so an encrypted key or a PKCS#12 bundle runs its key derivation on the
 * calling thread: product code calls `decodeIdentity`, which moves those off the event loop.
 */
export function buildIdentity(input: BuildIdentityInput): Identity {
  return buildIdentityWithKey(input).identity;
}

/** buildIdentity, also returning the key, for the key-derivation worker to hand back. */
export function buildIdentityWithKey(input: BuildIdentityInput): { identity: Identity; key: KeyObject } {
  const logger = input.logger ?? nullLogger;
  const keyOpts = input.nodeVersion === undefined ? {} : { nodeVersion: input.nodeVersion };
  const { certData, certLabel } = input;

  let leaf: X509Certificate;
  let key: KeyObject;
  let keySource: string;
  let signer: KeySigner;
  let candidates: X509Certificate[];
  const pkcs12 = isPkcs12(certData) || (hasPkcs12Extension(certLabel) && !isPem(certData));
  if (pkcs12) {
    if (input.keyData !== undefined) {
      throw new SidecarError('CONFIG_INVALID', `${certLabel} is a PKCS#12 bundle, which carries its own key: drop --private-key`, {
        details: { source: certLabel },
      });
    }
    const p = parsePkcs12(certData, certLabel, input.password, keyOpts);
    signer = signerFor(p.key, certLabel);
    leaf = p.leaf;
    key = p.key;
    keySource = certLabel;
    candidates = [p.leaf, ...p.chain];
  } else {
    candidates = parseCertificates(certData, certLabel);
    if (input.keyData !== undefined) {
      keySource = input.keyLabel ?? 'the private key';
      key = parsePrivateKey(input.keyData, keySource, input.password, keyOpts);
    } else if (pemHasPrivateKey(certData, certLabel)) {
      keySource = certLabel;
      key = parsePrivateKey(certData, certLabel, input.password, keyOpts);
    } else {
      throw new SidecarError('CONFIG_INVALID', `no private key: ${certLabel} holds only certificates; pass the key with --private-key`, {
        details: { source: certLabel },
      });
    }
    // Unsupported key types (RSA-1024, other curves) first: a mismatch is beside the point then.
    signer = signerFor(key, keySource);
    // The first certificate is the leaf; a later one that matches the key when the first
    // does not is taken instead, since bundles are sometimes written root-first.
    const match = candidates.find((c) => c.checkPrivateKey(key));
    if (match === undefined) {
      const first = candidates[0]!;
      throw new SidecarError(
        'KEY_CERT_MISMATCH',
        `the private key from ${keySource} does not belong to certificate ${subjectOf(first)} from ${certLabel}: use the key that belongs to this certificate`,
        { details: { certificateSource: certLabel, keySource } },
      );
    }
    leaf = match;
  }

  proveKeyPair(signer.kind, key, leaf, keySource, certLabel);
  const identity = assembleIdentity({
    leaf,
    others: candidates.filter((c) => c !== leaf),
    certLabel,
    signer,
    nowMs: input.nowMs,
    logger,
    ...(input.intermediatesData === undefined
      ? {}
      : { intermediatesData: input.intermediatesData, intermediatesLabel: input.intermediatesLabel ?? 'the intermediates' }),
  });
  return { identity, key };
}

/**
 * buildIdentity for product code: inputs whose key is behind a password-based key
 * derivation (an encrypted PKCS#8 key, a PKCS#12 bundle) are decoded in a worker thread
 * (see key-derivation.ts), every other input here.
 */
export async function decodeIdentity(input: BuildIdentityInput): Promise<Identity> {
  const costly =
    needsKeyDerivation(input.certData, input.certLabel) || (input.keyData !== undefined && needsKeyDerivation(input.keyData, input.keyLabel ?? ''));
  if (!costly) return buildIdentity(input);
  const { logger, ...data } = input;
  const parts = await decodeInWorker(data, logger ?? nullLogger);
  // The worker ran every check; what is left is to wrap the cloned key in a signer here.
  return identityOf(parts.leaf, parts.chain, createKeySigner(parts.key));
}

const KEY_PROBE = Buffer.from('rolesanywhere-sidecar key check', 'utf8');

/**
 * checkPrivateKey compares only the public half stored beside the private one, so a key
 * whose private part is damaged passes it and then signs garbage: the sidecar would start
 * healthy and get AccessDenied on every CreateSession. One signature that verifies with the
 * certificate's key proves the pair works.
 */
function proveKeyPair(kind: KeyKind, key: KeyObject, leaf: X509Certificate, keySource: string, certLabel: string): void {
  let ok = false;
  try {
    ok = verifyBytes(kind, leaf.publicKey, KEY_PROBE, signBytes(kind, key, KEY_PROBE));
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new SidecarError(
      'KEY_CERT_MISMATCH',
      `the private key from ${keySource} cannot make signatures that verify with certificate ${subjectOf(leaf)} from ${certLabel} (the key is damaged or does not belong to it): use the key that belongs to this certificate`,
      { details: { certificateSource: certLabel, keySource } },
    );
  }
}

/** One line per identity for the start-up log: no key material, nothing secret. */
export function identitySummary(identity: Identity): Record<string, string | number> {
  return {
    subject: subjectOf(identity.certificate),
    issuer: nameForMessage(identity.certificate.issuer),
    serial: identity.serialDecimal,
    fingerprint: identity.fingerprint,
    notAfter: iso(identity.notAfter),
    key: identity.signer.description,
    chainLength: identity.chain.length,
  };
}

async function readPassword(src: PasswordSource | undefined): Promise<string | undefined> {
  if (src === undefined) return undefined;
  if (src.kind === 'value') return src.value;
  const { data } = await readInput({ kind: 'file', path: src.path }, { maxBytes: MAX_PASSWORD_BYTES, env: {}, flag: '--pkcs8-password-file' });
  // Editors and `echo` add a final newline that is not part of the password.
  return data.toString('utf8').replace(/\r?\n$/, '');
}

interface RawInputs {
  readonly cert?: InputData;
  readonly key?: InputData;
  readonly inter?: InputData;
  readonly password?: string;
}

/** What has been read for a hardware identity: the intermediates, when given. */
export type ResolvedInputs = Pick<RawInputs, 'inter'>;

function flagFor(src: InputSource, file: string, env: string): string {
  return src.kind === 'env' ? env : file;
}

/** Reads the wanted inputs, bounded. At most one input may be stdin. */
async function readInputs(
  cfg: KeyConfig & { readonly intermediates?: InputSource },
  deps: LoadIdentityDeps,
  want: { cert: boolean; key: boolean; inter: boolean },
): Promise<RawInputs> {
  const stdinUsers = [cfg.certificate, cfg.privateKey, cfg.intermediates].filter((s) => isByteInput(s) && isStdin(s));
  if (stdinUsers.length > 1) {
    throw new SidecarError('CONFIG_INVALID', 'more than one input reads stdin ("-"): only one of --certificate, --private-key and --intermediates can be -');
  }
  if (cfg.password?.kind === 'file' && cfg.password.path === '-') {
    throw new SidecarError('CONFIG_INVALID', '--pkcs8-password-file cannot be -: give the path of a file holding the password');
  }
  const common = { maxBytes: MAX_INPUT_BYTES, env: deps.env ?? {}, ...(deps.stdin === undefined ? {} : { stdin: deps.stdin }) };
  const cert =
    want.cert && isByteInput(cfg.certificate)
      ? await readInput(cfg.certificate, { ...common, flag: flagFor(cfg.certificate, '--certificate', '--certificate-env') })
      : undefined;
  const key =
    want.key && isByteInput(cfg.privateKey)
      ? await readInput(cfg.privateKey, { ...common, flag: flagFor(cfg.privateKey, '--private-key', '--private-key-env') })
      : undefined;
  const inter =
    want.inter && cfg.intermediates !== undefined
      ? await readInput(cfg.intermediates, { ...common, flag: flagFor(cfg.intermediates, '--intermediates', '--intermediates-env') })
      : undefined;
  const password = await readPassword(cfg.password);
  return {
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(inter === undefined ? {} : { inter }),
    ...(password === undefined ? {} : { password }),
  };
}

/**
 * Reads the configured inputs and builds the Identity. The password is read from its file
 * here and never logged.
 */
export async function loadIdentity(cfg: IdentityConfig, deps: LoadIdentityDeps = {}): Promise<Identity> {
  const { cert, key, inter, password } = await readInputs(cfg, deps, { cert: true, key: true, inter: true });
  const keyStore = keyStoreOf(cfg.privateKey, key);
  if (!isByteInput(cfg.certificate) || keyStore !== undefined) {
    const { loadHardwareIdentity } = await import('./hardware.js');
    return loadHardwareIdentity(
      {
        certificate: isByteInput(cfg.certificate) ? { data: cert!.data, label: cert!.label } : cfg.certificate,
        ...(keyStore !== undefined ? { key: keyStore } : {}),
        inputs: inter !== undefined ? { inter } : {},
      },
      hardwareOf(cfg),
      { nowMs: (deps.clock ?? systemClock).now(), logger: deps.logger ?? nullLogger, env: deps.env ?? {} },
    );
  }
  return decodeIdentity({
    certData: cert!.data,
    certLabel: cert!.label,
    ...(key === undefined ? {} : { keyData: key.data, keyLabel: key.label }),
    ...(inter === undefined ? {} : { intermediatesData: inter.data, intermediatesLabel: inter.label }),
    ...(password === undefined ? {} : { password }),
    nowMs: (deps.clock ?? systemClock).now(),
    logger: deps.logger ?? nullLogger,
    ...(deps.nodeVersion === undefined ? {} : { nodeVersion: deps.nodeVersion }),
  });
}

/**
 * The key's hardware store, if any: a token or TPM reference, or a key file that turned out
 * to be a TSS2 PEM (a TPM-wrapped key, which openssl's tpm2 provider loads by path).
 */
function keyStoreOf(src: IdentityConfig['privateKey'], read: InputData | undefined): KeyStoreRef | undefined {
  if (src !== undefined && !isByteInput(src)) return src;
  if (read === undefined || !isTss2Pem(read.data)) return undefined;
  if (src?.kind !== 'file') {
    throw new SidecarError('CONFIG_INVALID', `${read.label} is a TPM key (TSS2 PEM): pass it as a file with --private-key, which the TPM tools read by path`);
  }
  const emptyAuth = tss2EmptyAuth(read.data);
  return { kind: 'tpm', key: src.path, label: read.label, ...(emptyAuth !== undefined ? { emptyAuth } : {}) };
}

/** A certificate and its chain without a key, for `read-certificate-data`. */
export interface CertificateInfo {
  readonly certificate: X509Certificate;
  readonly chain: readonly X509Certificate[];
  readonly serialDecimal: string;
  readonly fingerprint: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * The pure core of loadCertificateOnly. No validity or CA checks: this shows a certificate,
 * it does not vouch for it. The leaf is the first certificate (PKCS#12: the one matching
 * the bundle's key, since the bundle must be opened anyway).
 */
export function buildCertificateInfo(
  input: Pick<BuildIdentityInput, 'certData' | 'certLabel' | 'intermediatesData' | 'intermediatesLabel' | 'password' | 'nodeVersion'>,
): CertificateInfo {
  const { certData, certLabel } = input;
  let leaf: X509Certificate;
  let rest: X509Certificate[];
  if (isPkcs12(certData) || (hasPkcs12Extension(certLabel) && !isPem(certData))) {
    const p = parsePkcs12(certData, certLabel, input.password, input.nodeVersion === undefined ? {} : { nodeVersion: input.nodeVersion });
    leaf = p.leaf;
    rest = p.chain;
  } else {
    const certs = parseCertificates(certData, certLabel);
    leaf = certs[0]!;
    rest = certs.slice(1);
  }
  const fromIntermediates =
    input.intermediatesData === undefined ? [] : parseCertificates(input.intermediatesData, input.intermediatesLabel ?? 'the intermediates');
  return certificateInfoOf(leaf, [...rest, ...fromIntermediates], certLabel);
}

function certificateInfoOf(leaf: X509Certificate, others: readonly X509Certificate[], label: string): CertificateInfo {
  const { notBefore, notAfter } = validity(leaf);
  return Object.freeze({
    certificate: leaf,
    chain: Object.freeze(orderChain(leaf, others, label)),
    serialDecimal: serialToDecimal(leaf.serialNumber),
    fingerprint: certificateFingerprint(leaf),
    notBefore,
    notAfter,
  });
}

/** Reads the certificate (and intermediates) only: no private key is needed or read. */
export async function loadCertificateOnly(cfg: IdentityConfig, deps: LoadIdentityDeps = {}): Promise<CertificateInfo> {
  const { cert, inter, password } = await readInputs(cfg, deps, { cert: true, key: false, inter: true });
  if (!isByteInput(cfg.certificate)) {
    const { loadHardwareCertificate } = await import('./hardware.js');
    const { leaf, label } = await loadHardwareCertificate(cfg.certificate, hardwareOf(cfg));
    return certificateInfoOf(leaf, inter === undefined ? [] : parseCertificates(inter.data, inter.label), label);
  }
  return buildCertificateInfo({
    certData: cert!.data,
    certLabel: cert!.label,
    ...(inter === undefined ? {} : { intermediatesData: inter.data, intermediatesLabel: inter.label }),
    ...(password === undefined ? {} : { password }),
    ...(deps.nodeVersion === undefined ? {} : { nodeVersion: deps.nodeVersion }),
  });
}

/**
 * For `sign-string`: a signer when the key is held by hardware (a token, a TPM handle, a
 * TSS2 PEM file), else undefined and the caller loads the key with loadPrivateKey.
 */
export async function loadHardwareKeySigner(cfg: KeyConfig, deps: LoadIdentityDeps = {}): Promise<KeySigner | undefined> {
  let keyStore: KeyStoreRef | undefined;
  if (cfg.privateKey !== undefined && !isByteInput(cfg.privateKey)) keyStore = cfg.privateKey;
  else if (cfg.privateKey?.kind === 'file') {
    const { key } = await readInputs(cfg, deps, { cert: false, key: true, inter: false });
    keyStore = keyStoreOf(cfg.privateKey, key);
  } else if (cfg.privateKey === undefined && cfg.certificate !== undefined && !isByteInput(cfg.certificate)) keyStore = cfg.certificate;
  if (keyStore === undefined) return undefined;
  let certificate: { data: Buffer; label: string } | Pkcs11Ref | undefined;
  if (cfg.certificate !== undefined && keyStore.kind === 'pkcs11') {
    if (isByteInput(cfg.certificate)) {
      const { cert } = await readInputs(cfg, deps, { cert: true, key: false, inter: false });
      certificate = cert;
    } else certificate = cfg.certificate;
  }
  const { loadHardwareSigner } = await import('./hardware.js');
  return loadHardwareSigner(keyStore, certificate, hardwareOf(cfg), deps.env ?? {});
}

/**
 * The private key alone, for `sign-string`: from --private-key when given (the certificate
 * is then not read), else from the PKCS#12 bundle or combined PEM given as the certificate.
 * Not checked against a certificate; key-type checks are the caller's (describeKey).
 */
export async function loadPrivateKey(cfg: KeyConfig, deps: LoadIdentityDeps = {}): Promise<KeyObject> {
  const keyOpts = deps.nodeVersion === undefined ? {} : { nodeVersion: deps.nodeVersion };
  const { cert, key, password } = await readInputs(cfg, deps, { cert: cfg.privateKey === undefined, key: true, inter: false });
  if (key !== undefined) return parsePrivateKey(key.data, key.label, password, keyOpts);
  if (cert === undefined) {
    throw new SidecarError('CONFIG_INVALID', 'missing --private-key (or a --certificate holding the key: PKCS#12 or a combined PEM)');
  }
  const { data, label } = cert;
  if (isPkcs12(data) || (hasPkcs12Extension(label) && !isPem(data))) return parsePkcs12(data, label, password, keyOpts).key;
  if (pemHasPrivateKey(data, label)) return parsePrivateKey(data, label, password, keyOpts);
  throw new SidecarError('CONFIG_INVALID', `no private key: ${label} holds only certificates; pass the key with --private-key`, { details: { source: label } });
}
