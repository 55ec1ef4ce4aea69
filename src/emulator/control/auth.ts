/**
 * SigV4 (AWS4-HMAC-SHA256) authentication of control-plane requests, service
 * `rolesanywhere`, against the emulator's one admin key pair. As for STS, the received
 * request is re-signed with the AWS SDK's own signer (`@smithy/signature-v4`), so the
 * emulator agrees with every SDK by construction
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
 */
import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { SERVICE, parseAuthorization, sha256Hex } from '../../signing/canonical.js';
import { DEFAULT_MAX_CLOCK_SKEW_MS } from '../config.js';
import { parseAmzDate, type ReceivedRequest } from '../verifier.js';
import { ControlPlaneError, shown } from './errors.js';

export interface AdminCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface AuthContext {
  readonly credentials: AdminCredentials;
  readonly region: string;
  readonly nowMs: number;
  readonly maxClockSkewMs?: number;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

const denied = (
  type: 'MissingAuthenticationTokenException' | 'UnrecognizedClientException' | 'IncompleteSignatureException' | 'SignatureDoesNotMatch',
  m: string,
): ControlPlaneError => new ControlPlaneError(type === 'IncompleteSignatureException' ? 400 : 403, type, m);

/** Undefined when the request is signed by the admin key pair; otherwise the error to answer. */
export async function authenticateAdmin(req: ReceivedRequest, ctx: AuthContext): Promise<ControlPlaneError | undefined> {
  const headers = new Map<string, string[]>();
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    headers.set(lower, [...(headers.get(lower) ?? []), value]);
  }
  const header = (name: string): string | undefined => headers.get(name)?.[0];
  const authHeader = header('authorization');
  if (authHeader === undefined)
    return denied('MissingAuthenticationTokenException', "Missing Authentication Token: sign the request with SigV4 using the emulator's admin key pair");
  const auth = parseAuthorization(authHeader);
  if (auth === undefined || auth.algorithm !== 'AWS4-HMAC-SHA256') {
    return denied(
      'IncompleteSignatureException',
      'the Authorization header is not AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/rolesanywhere/aws4_request, SignedHeaders=..., Signature=...',
    );
  }
  if (!same(auth.serial, ctx.credentials.accessKeyId)) {
    return denied(
      'UnrecognizedClientException',
      `The security token included in the request is invalid: access key ${shown(auth.serial, 32)} is not the emulator's admin key (--admin-access-key-id)`,
    );
  }
  if (auth.service !== SERVICE || auth.terminator !== 'aws4_request') {
    return denied('SignatureDoesNotMatch', `Credential should be scoped to correct service: '${SERVICE}' (got '${shown(auth.service, 40)}')`);
  }
  if (auth.region !== ctx.region) {
    return denied(
      'SignatureDoesNotMatch',
      `Credential should be scoped to a valid region: this endpoint is ${ctx.region}, the request was signed for '${shown(auth.region, 40)}'`,
    );
  }
  const amzDate = header('x-amz-date');
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || signedAt === undefined)
    return denied('IncompleteSignatureException', 'the request has no valid X-Amz-Date header (YYYYMMDDTHHMMSSZ)');
  const skew = ctx.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (Math.abs(ctx.nowMs - signedAt) > skew) {
    return denied(
      'SignatureDoesNotMatch',
      `Signature expired: ${amzDate} is more than ${skew / 1000} s from the server time ${new Date(ctx.nowMs).toISOString()}; check the client's clock`,
    );
  }
  if (auth.date !== amzDate.slice(0, 8)) return denied('SignatureDoesNotMatch', `the credential scope date ${auth.date} does not match X-Amz-Date ${amzDate}`);
  const signed = new Set(auth.signedHeaders);
  if (!signed.has('host') || !signed.has('x-amz-date')) return denied('SignatureDoesNotMatch', 'SignedHeaders must include host and x-amz-date');
  const declaredHash = header('x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== sha256Hex(req.body))
    return denied('SignatureDoesNotMatch', 'x-amz-content-sha256 does not match the SHA-256 of the body');

  const toSign: Record<string, string> = {};
  for (const name of signed) {
    const values = headers.get(name);
    if (values === undefined) return denied('SignatureDoesNotMatch', `SignedHeaders lists ${shown(name, 60)}, which the request does not carry`);
    if (name !== 'x-amz-date') toSign[name] = values.join(',');
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(req.rawQuery)) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signer = new SignatureV4({ service: SERVICE, region: ctx.region, credentials: ctx.credentials, sha256: Sha256, applyChecksum: false });
  const resigned = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: (header('host') ?? 'localhost').replace(/:\d+$/, ''),
      path: req.path,
      query,
      headers: toSign,
      body: req.body.length > 0 ? new Uint8Array(req.body) : undefined,
    },
    { signingDate: new Date(signedAt), signingRegion: ctx.region, signingService: SERVICE, signableHeaders: signed },
  );
  const expected = /Signature=([0-9a-f]+)$/.exec(String(resigned.headers.authorization ?? ''))?.[1] ?? '';
  if (!same(expected, auth.signatureHex)) {
    return denied(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return undefined;
}
