/**
 * CreateSession verification, as strict as the service (pure: the clock is an argument).
 *
 * The canonical request is rebuilt from the bytes RECEIVED (method, path, decoded query,
 * the received values of the headers the client says it signed, SHA-256 of the received
 * body) with the same pure code the signer uses (signing/canonical.ts); the captured
 * vectors keep that code honest on both sides.
 *
 * Order: routing and input validation (400) -> trust anchor (404/403) -> authentication
 * (Authorization, X-Amz-Date, scope, serial, certificate, signature, chain: 403) ->
 * authorization (profile and role: 404/403/400). Authenticating before looking at the
 * profile means a caller without a valid certificate learns nothing about profiles.
 *
 * Error types. AWS returns AccessDeniedException (403) for every authentication and
 * authorization failure it documents (untrusted certificate, invalid signature, disabled
 * trust anchor or profile, role not allowed), ValidationException (400) for malformed
 * input. For an ARN that names no trust anchor or profile the emulator answers
 * ResourceNotFoundException (404); that mapping is an inference (the error exists in the
 * API, the documentation does not say which input raises it).
 */
import type { X509Certificate } from 'node:crypto';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { oneLine } from '../core/errors.js';
import type { KeyKind, SigningAlgorithm } from '../core/identity.js';
import {
  MissingSignedHeaderError,
  SERVICE,
  TERMINATOR,
  canonicalRequest,
  credentialScope,
  parseAuthorization,
  sha256Hex,
  stringToSign,
} from '../signing/canonical.js';
import { describeKey, verifyBytes } from '../identity/key-signer.js';
import { validateChain, fingerprintOf, MAX_INTERMEDIATES } from './chain.js';
import { revocationOf } from './control/crl.js';
import {
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DEFAULT_PROFILE_MAX_DURATION_SECONDS,
  MAX_DURATION_SECONDS,
  MIN_DURATION_SECONDS,
  parseRoleArnParts,
  parseRolesAnywhereArn,
  type EmulatorConfig,
  type EmulatorProfile,
  type EmulatorTrustAnchor,
} from './config.js';

/** Bodies are `{"durationSeconds":3600}`-sized; 64 KiB bounds what one request can make us parse. */
export const MAX_BODY_BYTES = 64 * 1024;
/** A base64 RSA-4096 certificate is about 2 KiB; 32 KiB per header leaves room for long extensions. */
export const MAX_CERT_HEADER_CHARS = 32 * 1024;
const MAX_CHAIN_HEADER_CHARS = MAX_CERT_HEADER_CHARS * (MAX_INTERMEDIATES + 1);
const MAX_QUERY_PARAMS = 32;

export interface ReceivedRequest {
  readonly method: string;
  /** Path without the query, as received (e.g. `/sessions`). */
  readonly path: string;
  /** Query string without the `?`, as received (still percent-encoded). */
  readonly rawQuery: string;
  /** Raw header pairs as received (Node's `rawHeaders`), repeated names included. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

export type CreateSessionErrorType = 'AccessDeniedException' | 'ValidationException' | 'ResourceNotFoundException' | 'UnknownOperationException';

export interface VerifyFailure {
  readonly ok: false;
  readonly status: 400 | 403 | 404;
  readonly errorType: CreateSessionErrorType;
  /** One line; says why. Never contains secrets (the request carries none). */
  readonly message: string;
}

export interface SessionParams {
  readonly profileArn: string;
  readonly roleArn: string;
  readonly trustAnchorArn: string;
  readonly durationSeconds: number;
  readonly roleSessionName?: string;
}

export interface VerifiedSession {
  readonly ok: true;
  readonly leaf: X509Certificate;
  readonly intermediates: readonly X509Certificate[];
  /** The trust anchor CA the chain ends at. */
  readonly root: X509Certificate;
  readonly params: SessionParams;
  readonly algorithm: SigningAlgorithm;
  readonly serialDecimal: string;
  /** Lower-case hex without leading zeros: the session name the service uses by default. */
  readonly serialHex: string;
  /** SHA-256 of the leaf DER, hex. */
  readonly fingerprint: string;
  readonly trustAnchor: EmulatorTrustAnchor;
  readonly profile: EmulatorProfile;
}

export type VerifyResult = VerifiedSession | VerifyFailure;

const ALGORITHMS: Record<KeyKind, SigningAlgorithm> = {
  RSA: 'AWS4-X509-RSA-SHA256',
  EC: 'AWS4-X509-ECDSA-SHA256',
  'ML-DSA': 'AWS4-X509-MLDSA',
};
const KNOWN_ALGORITHMS = new Set<string>(Object.values(ALGORITHMS));
const REQUIRED_SIGNED = ['content-type', 'host', 'x-amz-date', 'x-amz-x509'];
/** Headers whose meaning breaks if repeated; a second copy is refused rather than guessed at. */
const SINGLETON_HEADERS = ['authorization', 'content-type', 'host', 'x-amz-date', 'x-amz-x509', 'x-amz-x509-chain'];
const ARN_PARAMS = ['profileArn', 'roleArn', 'trustAnchorArn'] as const;
// IAM's RoleSessionName constraint.
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fail(status: 400 | 403 | 404, errorType: CreateSessionErrorType, message: string): VerifyFailure {
  return { ok: false, status, errorType, message: oneLineMessage(message) };
}
const denied = (m: string): VerifyFailure => fail(403, 'AccessDeniedException', m);
const invalid = (m: string): VerifyFailure => fail(400, 'ValidationException', m);
const notFound = (m: string): VerifyFailure => fail(404, 'ResourceNotFoundException', m);

function oneLineMessage(s: string): string {
  const flat = s
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > 600 ? `${flat.slice(0, 597)}...` : flat;
}

/** Echoes client-supplied text in a message: bounded, printable. */
function shown(v: string, max = 120): string {
  const flat = v.replace(/[^\x20-\x7e]/g, '?');
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** Parses `a=1&b=2` into decoded pairs; `+` is kept literally, as SigV4 clients encode spaces as %20. */
function parseQuery(raw: string): Array<[string, string]> | string {
  if (raw === '') return [];
  const out: Array<[string, string]> = [];
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const k = eq < 0 ? piece : piece.slice(0, eq);
    const v = eq < 0 ? '' : piece.slice(eq + 1);
    try {
      out.push([decodeURIComponent(k), decodeURIComponent(v)]);
    } catch {
      return `query parameter "${shown(k, 40)}" is not valid percent-encoding`;
    }
    if (out.length > MAX_QUERY_PARAMS) return `the query string has more than ${MAX_QUERY_PARAMS} parameters`;
  }
  return out;
}

function decodeDerBase64(value: string): Buffer | undefined {
  if (value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value)) return undefined;
  return Buffer.from(value, 'base64');
}

/** Strict DER certificate: no PEM, no trailing bytes. */
function decodeCertificate(value: string): X509Certificate | undefined {
  const der = decodeDerBase64(value);
  if (der === undefined || der[0] !== 0x30) return undefined;
  try {
    const cert = new NodeX509(der);
    return cert.raw.equals(der) ? cert : undefined;
  } catch {
    return undefined;
  }
}

/** `20240706T143004Z` -> epoch ms, or undefined when malformed or not a real date. */
export function parseAmzDate(v: string): number | undefined {
  const m = AMZ_DATE.exec(v);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  return ms;
}

export function serialToDecimal(cert: X509Certificate): string {
  return BigInt(`0x${cert.serialNumber}`).toString(10);
}

function serialToHex(cert: X509Certificate): string {
  return BigInt(`0x${cert.serialNumber}`).toString(16);
}

export function verifyCreateSession(req: ReceivedRequest, config: EmulatorConfig, nowMs: number): VerifyResult {
  // ---- routing ----
  if (req.path !== '/sessions') {
    return fail(404, 'UnknownOperationException', `no operation at "${shown(req.path, 80)}": CreateSession is POST /sessions`);
  }
  if (req.method !== 'POST') {
    return fail(404, 'UnknownOperationException', `CreateSession is POST /sessions, not ${shown(req.method, 10)}`);
  }

  // ---- input validation (400) ----
  if (req.body.length > MAX_BODY_BYTES) return invalid(`the request body is ${req.body.length} bytes, more than the ${MAX_BODY_BYTES} accepted`);
  const query = parseQuery(req.rawQuery);
  if (typeof query === 'string') return invalid(query);
  let body: Record<string, unknown> = {};
  // An empty body means "no members" in the REST-JSON protocol (the ARNs may all be in the query).
  if (req.body.length > 0) {
    let doc: unknown;
    try {
      doc = JSON.parse(req.body.toString('utf8'));
    } catch {
      return invalid('the request body is not valid JSON: send e.g. {"durationSeconds":3600} with Content-Type: application/json');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return invalid('the request body must be a JSON object, e.g. {"durationSeconds":3600}');
    body = doc as Record<string, unknown>;
  }

  const arns: Partial<Record<(typeof ARN_PARAMS)[number], string>> = {};
  for (const name of ARN_PARAMS) {
    const inQuery = query.filter(([k]) => k === name).map(([, v]) => v);
    if (inQuery.length > 1) return invalid(`query parameter ${name} is given ${inQuery.length} times: give it once`);
    const inBody = body[name];
    if (inBody !== undefined && typeof inBody !== 'string') return invalid(`body member ${name} must be a string`);
    const q = inQuery[0];
    if (q !== undefined && inBody !== undefined && q !== inBody) return invalid(`${name} differs between the query string and the body: give it once`);
    const v = q ?? inBody;
    if (v === undefined || v === '') return invalid(`${name} is missing: give it as a query parameter or in the JSON body`);
    arns[name] = v;
  }
  const trustAnchorArn = arns.trustAnchorArn!;
  const profileArn = arns.profileArn!;
  const roleArn = arns.roleArn!;
  const ta = parseRolesAnywhereArn(trustAnchorArn);
  if (ta === undefined || ta.type !== 'trust-anchor') {
    return invalid(`trustAnchorArn "${shown(trustAnchorArn)}" is not a trust anchor ARN: expected arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<id>`);
  }
  const pr = parseRolesAnywhereArn(profileArn);
  if (pr === undefined || pr.type !== 'profile') {
    return invalid(`profileArn "${shown(profileArn)}" is not a profile ARN: expected arn:aws:rolesanywhere:<region>:<account>:profile/<id>`);
  }
  if (parseRoleArnParts(roleArn) === undefined) {
    return invalid(`roleArn "${shown(roleArn)}" is not an IAM role ARN: expected arn:aws:iam::<account>:role/<name>`);
  }

  const rawDuration = body.durationSeconds;
  let requestedDuration: number | undefined;
  if (rawDuration !== undefined) {
    if (typeof rawDuration !== 'number' || !Number.isInteger(rawDuration)) return invalid('durationSeconds must be a whole number of seconds');
    if (rawDuration < MIN_DURATION_SECONDS || rawDuration > MAX_DURATION_SECONDS) {
      return invalid(`durationSeconds ${rawDuration} is out of range: use ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`);
    }
    requestedDuration = rawDuration;
  }
  const rawSessionName = body.roleSessionName;
  if (rawSessionName !== undefined && (typeof rawSessionName !== 'string' || !SESSION_NAME.test(rawSessionName))) {
    return invalid('roleSessionName must be 2 to 64 characters of letters, digits and +=,.@_-');
  }

  // ---- trust anchor (404/403) ----
  const partition = config.partition ?? 'aws';
  if (ta.region !== config.region || ta.accountId !== config.accountId || ta.partition !== partition) {
    return notFound(
      `trust anchor "${shown(trustAnchorArn)}" is not in this endpoint's region ${config.region} and account ${config.accountId}: use the endpoint of the trust anchor's region`,
    );
  }
  const anchor = config.trustAnchors.find((t) => t.arn === trustAnchorArn);
  if (anchor === undefined) return notFound(`trust anchor "${shown(trustAnchorArn)}" does not exist`);
  if (anchor.enabled === false) return denied(`trust anchor "${trustAnchorArn}" is disabled`);

  // ---- authentication (403) ----
  const headers = new Map<string, string[]>();
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    const list = headers.get(lower) ?? [];
    list.push(value);
    headers.set(lower, list);
  }
  for (const name of SINGLETON_HEADERS) {
    const n = headers.get(name)?.length ?? 0;
    if (n > 1) return invalid(`header ${name} appears ${n} times: send it once`);
  }
  const header = (name: string): string | undefined => headers.get(name)?.[0];

  const authHeader = header('authorization');
  if (authHeader === undefined)
    return denied('the request has no Authorization header: sign it with SigV4-X509 (AWS4-X509-RSA-SHA256, AWS4-X509-ECDSA-SHA256 or AWS4-X509-MLDSA)');
  const auth = parseAuthorization(authHeader);
  if (auth === undefined) {
    return denied(
      'the Authorization header is malformed: expected "<algorithm> Credential=<serial>/<date>/<region>/rolesanywhere/aws4_request, SignedHeaders=<list>, Signature=<hex>"',
    );
  }
  if (!KNOWN_ALGORITHMS.has(auth.algorithm)) {
    return denied(`signing algorithm "${shown(auth.algorithm, 40)}" is not supported: use AWS4-X509-RSA-SHA256, AWS4-X509-ECDSA-SHA256 or AWS4-X509-MLDSA`);
  }
  const algorithm = auth.algorithm as SigningAlgorithm;

  const amzDate = header('x-amz-date');
  if (amzDate === undefined) return denied('the request has no X-Amz-Date header: send the signing time as YYYYMMDDTHHMMSSZ');
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) return denied(`X-Amz-Date "${shown(amzDate, 40)}" is not a UTC time in the form YYYYMMDDTHHMMSSZ`);
  const maxSkew = config.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (Math.abs(nowMs - signedAt) > maxSkew) {
    const drift = Math.round((signedAt - nowMs) / 1000);
    return denied(
      `signature ${drift < 0 ? 'expired' : 'not yet current'}: X-Amz-Date ${amzDate} is ${Math.abs(drift)} s ${drift < 0 ? 'behind' : 'ahead of'} the server time ${new Date(nowMs).toISOString()} (at most ${maxSkew / 1000} s allowed); check the client's clock`,
    );
  }

  if (auth.date !== amzDate.slice(0, 8)) return denied(`the credential scope date ${auth.date} does not match the X-Amz-Date date ${amzDate.slice(0, 8)}`);
  if (auth.region !== config.region)
    return denied(`the credential scope region "${shown(auth.region, 40)}" is wrong: this endpoint and the trust anchor are in ${config.region}`);
  if (auth.service !== SERVICE) return denied(`the credential scope service "${shown(auth.service, 40)}" is wrong: expected ${SERVICE}`);
  if (auth.terminator !== TERMINATOR) return denied(`the credential scope terminator "${shown(auth.terminator, 40)}" is wrong: expected ${TERMINATOR}`);

  const signed = auth.signedHeaders;
  for (let i = 1; i < signed.length; i++) {
    if (signed[i - 1]! >= signed[i]!) return denied('SignedHeaders must list lower-case header names once each, sorted');
  }
  const chainHeader = header('x-amz-x509-chain');
  const mustSign = chainHeader !== undefined ? [...REQUIRED_SIGNED, 'x-amz-x509-chain'] : REQUIRED_SIGNED;
  for (const name of mustSign) {
    if (!signed.includes(name)) return denied(`SignedHeaders does not include ${name}: sign ${mustSign.join(', ')}`);
  }
  if (signed.includes('authorization')) return denied('SignedHeaders must not include authorization');

  if (!DECIMAL.test(auth.serial)) {
    return denied(
      `the credential serial "${shown(auth.serial, 80)}" is not a decimal number without leading zeros: use the certificate serial number in decimal`,
    );
  }

  const x509Header = header('x-amz-x509');
  if (x509Header === undefined) return denied('the request has no X-Amz-X509 header: send the base64 DER of the signing certificate');
  if (x509Header.length > MAX_CERT_HEADER_CHARS) return denied(`X-Amz-X509 is longer than ${MAX_CERT_HEADER_CHARS} characters`);
  const leaf = decodeCertificate(x509Header);
  if (leaf === undefined) return denied('X-Amz-X509 is not a base64-encoded DER X.509 certificate');
  const intermediates: X509Certificate[] = [];
  if (chainHeader !== undefined) {
    if (chainHeader.length > MAX_CHAIN_HEADER_CHARS) return denied(`X-Amz-X509-Chain is longer than ${MAX_CHAIN_HEADER_CHARS} characters`);
    const parts = chainHeader.split(',');
    if (parts.length > MAX_INTERMEDIATES + 1)
      return denied(`X-Amz-X509-Chain holds ${parts.length} certificates, more than the ${MAX_INTERMEDIATES} intermediates accepted`);
    for (const [i, part] of parts.entries()) {
      const cert = decodeCertificate(part);
      if (cert === undefined)
        return denied(`X-Amz-X509-Chain entry #${i + 1} is not a base64-encoded DER X.509 certificate (entries are separated by "," without spaces)`);
      intermediates.push(cert);
    }
  }

  let keyKind: KeyKind;
  try {
    keyKind = describeKey(leaf.publicKey).kind;
  } catch (e) {
    return denied(`the signing certificate's key is not accepted: ${(e as Error).message}`);
  }
  if (ALGORITHMS[keyKind] !== algorithm) {
    return denied(`algorithm ${algorithm} does not match the certificate's ${keyKind} key: use ${ALGORITHMS[keyKind]}`);
  }
  // RFC 5280 serials are positive; Node shows a negative one as "-4E97...", which is no hex.
  if (leaf.serialNumber.startsWith('-'))
    return denied('the signing certificate has a negative serial number, which RFC 5280 forbids: issue a certificate with a positive serial');
  const serialDecimal = serialToDecimal(leaf);
  if (auth.serial !== serialDecimal) {
    return denied(`the credential serial ${shown(auth.serial, 80)} is not the signing certificate's serial number ${serialDecimal} (decimal)`);
  }

  if (!/^([0-9a-f]{2})+$/.test(auth.signatureHex)) return denied('the signature must be lower-case hex with an even number of digits');
  let canonical: string;
  try {
    canonical = canonicalRequest({
      method: req.method,
      path: req.path,
      query,
      headers: req.headers,
      signedHeaders: signed,
      body: req.body,
    });
  } catch (e) {
    if (e instanceof MissingSignedHeaderError) return denied(`SignedHeaders lists ${e.header}, which the request does not carry`);
    throw e;
  }
  const toSign = stringToSign(algorithm, amzDate, credentialScope(amzDate, config.region), canonical);
  if (!verifyBytes(keyKind, leaf.publicKey, Buffer.from(toSign, 'utf8'), Buffer.from(auth.signatureHex, 'hex'))) {
    return denied(
      `invalid signature: it does not verify with the signing certificate's key over the string to sign ${toSign.split('\n').join('|')} (canonical request hash ${sha256Hex(canonical)})`,
    );
  }

  if (anchor.untrustedReason !== undefined) return denied(`trust anchor "${trustAnchorArn}" trusts no certificate: ${anchor.untrustedReason}`);
  let chain: ReturnType<typeof validateChain>;
  try {
    chain = validateChain(leaf, intermediates, anchor.roots, nowMs);
  } catch (e) {
    // Node parsed the certificates, but an extension did not decode for the stricter parser.
    return denied(`a certificate in the chain has a malformed extension (${oneLine((e as Error).message, 160)}): reissue it`);
  }
  if (!chain.ok) return denied(chain.message);
  // Revocation: an enabled CRL of this trust anchor listing the leaf or an intermediate.
  const revoked = revocationOf([leaf, ...intermediates], anchor.crls ?? []);
  if (revoked !== undefined) return denied(revoked);

  // ---- authorization (404/403/400) ----
  if (pr.region !== config.region || pr.accountId !== config.accountId || pr.partition !== partition) {
    return notFound(`profile "${shown(profileArn)}" is not in this endpoint's region ${config.region} and account ${config.accountId}`);
  }
  const profile = config.profiles.find((p) => p.arn === profileArn);
  if (profile === undefined) return notFound(`profile "${shown(profileArn)}" does not exist`);
  if (profile.enabled === false) return denied(`profile "${profileArn}" is disabled`);
  if (!profile.roleArns.includes(roleArn)) return denied(`role "${shown(roleArn)}" is not one of the roles of profile "${profileArn}"`);
  const maxDuration = profile.maxDurationSeconds ?? DEFAULT_PROFILE_MAX_DURATION_SECONDS;
  if (requestedDuration !== undefined && requestedDuration > maxDuration) {
    return invalid(`durationSeconds ${requestedDuration} exceeds the profile's maximum of ${maxDuration} seconds`);
  }
  if (rawSessionName !== undefined && profile.acceptRoleSessionName !== true) {
    return invalid(`profile "${profileArn}" does not accept a roleSessionName (acceptRoleSessionName is off)`);
  }

  return {
    ok: true,
    leaf,
    intermediates,
    root: chain.root,
    params: {
      profileArn,
      roleArn,
      trustAnchorArn,
      durationSeconds: requestedDuration ?? maxDuration,
      ...(typeof rawSessionName === 'string' ? { roleSessionName: rawSessionName } : {}),
    },
    algorithm,
    serialDecimal,
    serialHex: serialToHex(leaf),
    fingerprint: fingerprintOf(leaf),
    trustAnchor: anchor,
    profile,
  };
}
