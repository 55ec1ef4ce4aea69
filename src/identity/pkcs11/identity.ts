/**
 * An identity whose key is on a PKCS#11 token: the certificate from the token (a `pkcs11:`
 * URI) or from a file, the key found on the token by its URI, by the certificate's CKA_ID,
 * or by trying which key signs for the certificate. The signer asks the token for every
 * signature; the key never leaves it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { SidecarError } from '../../core/errors.js';
import type { KeySigner } from '../../core/identity.js';
import { p1363ToDer } from '../ecdsa-der.js';
import { describeKey, verifyBytes } from '../key-signer.js';
import { subjectOf } from '../certificate.js';
import { describePkcs11Uri, type Pkcs11Uri } from './uri.js';
import { listObjects, Pkcs11Library, TokenSession, type ObjectInfo, type PinProvider } from './token.js';

/** Tokens hold a handful of keys; a URI that matches more is not one worth trying key by key. */
const MAX_CANDIDATE_KEYS = 16;
const PROBE = Buffer.from('rolesanywhere-sidecar token key check', 'utf8');
/** SHA-256 DigestInfo prefix, for tokens that sign only raw PKCS#1 v1.5 (CKM_RSA_PKCS). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** Libraries and sessions kept across loads (rotation polls, re-reads), so a token is logged into once. */
export class Pkcs11Sessions {
  private readonly libraries = new Map<string, Pkcs11Library>();
  private readonly sessions = new Map<string, TokenSession>();

  session(libraryPath: string, uri: Pkcs11Uri, pin: PinProvider): TokenSession {
    const lib = this.libraries.get(libraryPath) ?? new Pkcs11Library(libraryPath);
    this.libraries.set(libraryPath, lib);
    const key = JSON.stringify([libraryPath, uri.token, uri.manufacturer, uri.model, uri.serial, uri.slotId]);
    let s = this.sessions.get(key);
    if (s === undefined) {
      s = new TokenSession(lib, uri, pin);
      this.sessions.set(key, s);
    }
    return s;
  }
}

export interface TokenCertificate {
  readonly certificate: X509Certificate;
  readonly object: ObjectInfo;
  readonly label: string;
}

function pick(objs: readonly ObjectInfo[], what: string, uri: Pkcs11Uri, where: string, all: () => ObjectInfo[]): ObjectInfo {
  if (objs.length === 1) return objs[0]!;
  if (objs.length === 0) {
    const present = all();
    throw new SidecarError(
      'PKCS11_OBJECT_NOT_FOUND',
      `no ${what} matches ${describePkcs11Uri(uri)} on ${where} (${what}s there: ${present.length > 0 ? listObjects(present) : 'none'}): fix object= or id= in the URI`,
    );
  }
  throw new SidecarError(
    'PKCS11_OBJECT_AMBIGUOUS',
    `${objs.length} ${what}s match ${describePkcs11Uri(uri)} on ${where}: ${listObjects(objs)}; add object= or id= to the URI to pick one`,
  );
}

/** The certificate object a URI names (public: read without logging in when the token allows). */
export async function readTokenCertificate(session: TokenSession, uri: Pkcs11Uri): Promise<TokenCertificate> {
  const read = (needLogin: boolean): Promise<TokenCertificate | undefined> =>
    session.run(({ p, c, session: h }) => {
      const found = session.findObjects(p, c, h, c.CKO_CERTIFICATE, uri);
      if (found.length === 0 && !needLogin) return undefined;
      const obj = pick(found, 'certificate', uri, session.label, () => session.findObjects(p, c, h, c.CKO_CERTIFICATE, {}));
      const value = p.C_GetAttributeValue(h, obj.handle, [{ type: c.CKA_VALUE }])[0]?.value;
      if (value === undefined || value.length === 0) {
        throw new SidecarError('CERT_INVALID', `certificate object ${listObjects([obj])} on ${session.label} has no value`);
      }
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(value);
      } catch (e) {
        throw new SidecarError('CERT_INVALID', `certificate object ${listObjects([obj])} on ${session.label} is not a valid X.509 certificate`, { cause: e });
      }
      return { certificate, object: obj, label: `${session.label} ${listObjects([obj])}` };
    }, needLogin);
  // Some tokens show certificates only after login: look without first, then with.
  return (await read(false)) ?? (await read(true))!;
}

/** The certificate's DER as it is on the token now (for the rotation watcher). */
export async function tokenCertificateBytes(session: TokenSession, uri: Pkcs11Uri): Promise<Buffer> {
  return (await readTokenCertificate(session, uri)).certificate.raw;
}

export interface TokenKeyOptions {
  /** The key's URI (--private-key), or the certificate's when the key is found beside it. */
  readonly uri: Pkcs11Uri;
  readonly session: TokenSession;
  readonly certificate: X509Certificate;
  /** CKA_ID of the certificate object when it came from the same token. */
  readonly certificateId?: Buffer;
  /** Whether the URI names the key itself (object= / id= given for the key). */
  readonly explicit: boolean;
  /** --reuse-pin: the user PIN for keys that want it again at every signature. */
  readonly contextPin: () => Promise<string | undefined>;
  readonly certLabel: string;
}

interface KeyRef {
  readonly label: string;
  readonly id: Buffer;
}

/**
 * Finds the private key that belongs to the certificate and returns a signer over it. The
 * key is re-found by label and id at each signature, so a re-opened session still finds it.
 */
export async function tokenSigner(o: TokenKeyOptions): Promise<KeySigner> {
  const d = describeKey(o.certificate.publicKey);
  if (d.kind === 'ML-DSA') {
    throw new SidecarError(
      'KEY_UNSUPPORTED',
      `${o.certLabel}: ML-DSA keys on PKCS#11 tokens are not supported (no standard mechanism yet): use RSA or ECDSA on the token`,
    );
  }
  const { session } = o;

  const signWith = (ref: KeyRef, data: Buffer): Promise<Buffer> =>
    session.run(async ({ p, c, session: h }) => {
      const found = session.findObjects(p, c, h, c.CKO_PRIVATE_KEY, { object: ref.label, id: ref.id }, 2);
      if (found.length !== 1) {
        throw new SidecarError(
          'PKCS11_OBJECT_NOT_FOUND',
          `the private key ${listObjects([{ handle: Buffer.alloc(0), ...ref }])} is no longer on ${session.label}`,
        );
      }
      const key = found[0]!.handle;
      let alwaysAuth = false;
      try {
        alwaysAuth = p.C_GetAttributeValue(h, key, [{ type: c.CKA_ALWAYS_AUTHENTICATE }])[0]?.value?.[0] === 1;
      } catch {
        alwaysAuth = false;
      }
      const signOnce = async (mechanism: number, input: Buffer, outLen: number): Promise<Buffer> => {
        p.C_SignInit(h, { mechanism }, key);
        if (alwaysAuth) await session.contextLogin(h, await o.contextPin());
        return new Promise<Buffer>((resolve, reject) => {
          p.C_Sign(h, input, Buffer.alloc(outLen), (err, sig) => (err ? reject(err) : resolve(sig)));
        });
      };
      const digest = createHash('sha256').update(data).digest();
      if (d.kind === 'EC') return p1363ToDer(await signOnce(c.CKM_ECDSA, digest, 132));
      try {
        return await signOnce(c.CKM_SHA256_RSA_PKCS, data, 512);
      } catch (e) {
        if (!/CKR_MECHANISM_INVALID/.test((e as Error).message)) throw e;
        return signOnce(c.CKM_RSA_PKCS, Buffer.concat([SHA256_DIGEST_INFO, digest]), 512);
      }
    }, true);

  // Candidates: the URI's key(s); else the certificate's CKA_ID; else every key on the token.
  const candidates = await session.run(({ p, c, session: h }) => {
    const byUri = session.findObjects(p, c, h, c.CKO_PRIVATE_KEY, o.explicit ? o.uri : {}, MAX_CANDIDATE_KEYS + 1);
    if (o.explicit || o.certificateId === undefined) return byUri;
    const byId = session.findObjects(p, c, h, c.CKO_PRIVATE_KEY, { id: o.certificateId }, MAX_CANDIDATE_KEYS + 1);
    return byId.length > 0 ? byId : byUri;
  }, true);
  const where = session.label;
  if (candidates.length === 0) {
    throw new SidecarError(
      'PKCS11_OBJECT_NOT_FOUND',
      o.explicit
        ? `no private key matches ${describePkcs11Uri(o.uri)} on ${where}: fix object= or id= in --private-key`
        : `no private key on ${where} (after logging in): import the key for ${subjectOf(o.certificate)}, or name it with --private-key 'pkcs11:...'`,
    );
  }
  if (candidates.length > MAX_CANDIDATE_KEYS) {
    throw new SidecarError(
      'PKCS11_OBJECT_AMBIGUOUS',
      `more than ${MAX_CANDIDATE_KEYS} private keys on ${where} could belong to ${subjectOf(o.certificate)}: name the key with object= or id= in --private-key`,
    );
  }
  // Prove each candidate with one signature the certificate's public key verifies.
  const matching: KeyRef[] = [];
  for (const cand of candidates) {
    const ref = { label: cand.label, id: cand.id };
    try {
      if (verifyBytes(d.kind, o.certificate.publicKey, PROBE, await signWith(ref, PROBE))) matching.push(ref);
    } catch (e) {
      // A wrong PIN, a locked token or a lost token is the answer, not a mismatch.
      if (e instanceof SidecarError && e.code !== 'PKCS11_FAILED' && e.code !== 'PKCS11_OBJECT_NOT_FOUND') throw e;
      if (candidates.length === 1) throw e;
    }
  }
  if (matching.length === 0) {
    throw new SidecarError(
      'KEY_CERT_MISMATCH',
      `no private key on ${where} (${listObjects(candidates)}) makes signatures that verify with certificate ${subjectOf(o.certificate)} from ${o.certLabel}: name the key that belongs to it with --private-key`,
    );
  }
  if (matching.length > 1) {
    throw new SidecarError(
      'PKCS11_OBJECT_AMBIGUOUS',
      `several private keys on ${where} belong to ${subjectOf(o.certificate)}: ${listObjects(matching.map((m) => ({ handle: Buffer.alloc(0), ...m })))}; name one with --private-key`,
    );
  }
  const ref = matching[0]!;
  return {
    algorithm: d.algorithm,
    kind: d.kind,
    description: `${d.description} (PKCS#11)`,
    sign: (data: Buffer) => signWith(ref, data),
  };
}
