/**
 * Builds and signs a CreateSession request (no clock of its own: the time is an argument).
 * The three ARNs go in the query string and the duration in a compact JSON body, exactly as
 * the official helper sends them, so requests are byte-comparable with its captures.
 */
import { amzDate as toAmzDate } from '../core/clock.js';
import type { Identity, KeySigner } from '../core/identity.js';
import {
  authorizationHeader,
  canonicalQuery,
  canonicalRequest,
  credentialScope,
  signableHeaderNames,
  stringToSign,
  type HeaderList,
  type QueryList,
} from './canonical.js';

export interface CreateSessionParams {
  readonly profileArn: string;
  readonly roleArn: string;
  readonly trustAnchorArn: string;
  readonly durationSeconds: number;
  readonly roleSessionName?: string;
}

export interface SigningIdentity {
  readonly certificateDer: Buffer;
  /** Intermediates' DER in issuing order. */
  readonly chainDer: readonly Buffer[];
  readonly serialDecimal: string;
  readonly signer: Pick<KeySigner, 'algorithm' | 'sign'>;
}

export interface SignedRequest {
  readonly method: 'POST';
  /** `/sessions?<canonical query>` */
  readonly pathAndQuery: string;
  /** Headers to send, in order, Authorization last. */
  readonly headers: HeaderList;
  readonly body: string;
  /** For debugging only (contains no secrets). */
  readonly canonicalRequest: string;
  readonly stringToSign: string;
}

/** The body the official helper sends: `{"durationSeconds":3600}` (+ roleSessionName when set). */
export function createSessionBody(p: CreateSessionParams): string {
  const body: Record<string, string | number> = { durationSeconds: p.durationSeconds };
  if (p.roleSessionName !== undefined && p.roleSessionName !== '') body.roleSessionName = p.roleSessionName;
  return JSON.stringify(body);
}

export function signingIdentityOf(identity: Identity): SigningIdentity {
  return {
    certificateDer: identity.certificate.raw,
    chainDer: identity.chain.map((c) => c.raw),
    serialDecimal: identity.serialDecimal,
    signer: identity.signer,
  };
}

/** A CreateSession request with everything but its signature: the string to sign is ready. */
export interface PreparedRequest {
  readonly algorithm: KeySigner['algorithm'];
  readonly serialDecimal: string;
  readonly pathAndQuery: string;
  readonly headers: HeaderList;
  readonly signedHeaders: readonly string[];
  readonly scope: string;
  readonly body: string;
  readonly canonicalRequest: string;
  readonly stringToSign: string;
}

/**
 * Builds a CreateSession request for `host` (the Host header value, with a port when it is
 * not the scheme's default) at time `nowMs`, up to the string to sign. Pure.
 */
export function prepareCreateSession(
  id: Omit<SigningIdentity, 'signer'> & { readonly algorithm: KeySigner['algorithm'] },
  params: CreateSessionParams,
  region: string,
  host: string,
  nowMs: number,
): PreparedRequest {
  const date = toAmzDate(nowMs);
  // One list for the URL and the canonical request, so the two cannot disagree.
  const queryPairs: QueryList = [
    ['profileArn', params.profileArn],
    ['roleArn', params.roleArn],
    ['trustAnchorArn', params.trustAnchorArn],
  ];
  const query = canonicalQuery(queryPairs);
  const body = createSessionBody(params);
  const headers: Array<[string, string]> = [
    ['Content-Type', 'application/json'],
    ['Host', host],
    ['X-Amz-Date', date],
    ['X-Amz-X509', id.certificateDer.toString('base64')],
  ];
  if (id.chainDer.length > 0) {
    headers.push(['X-Amz-X509-Chain', id.chainDer.map((d) => d.toString('base64')).join(',')]);
  }
  const signedHeaders = signableHeaderNames(headers);
  const canonical = canonicalRequest({
    method: 'POST',
    path: '/sessions',
    query: queryPairs,
    headers,
    signedHeaders,
    body,
  });
  const scope = credentialScope(date, region);
  return {
    algorithm: id.algorithm,
    serialDecimal: id.serialDecimal,
    pathAndQuery: `/sessions?${query}`,
    headers,
    signedHeaders,
    scope,
    body,
    canonicalRequest: canonical,
    stringToSign: stringToSign(id.algorithm, date, scope, canonical),
  };
}

/** The prepared request with its signature (made over `stringToSign`) in the Authorization header. Pure. */
export function withSignature(p: PreparedRequest, signature: Buffer): SignedRequest {
  return {
    method: 'POST',
    pathAndQuery: p.pathAndQuery,
    headers: [...p.headers, ['Authorization', authorizationHeader(p.algorithm, p.serialDecimal, p.scope, p.signedHeaders, signature.toString('hex'))]],
    body: p.body,
    canonicalRequest: p.canonicalRequest,
    stringToSign: p.stringToSign,
  };
}

/** Prepares and signs a CreateSession request; the signer may be a token or a TPM, so this waits for it. */
export async function signCreateSession(id: SigningIdentity, params: CreateSessionParams, region: string, host: string, nowMs: number): Promise<SignedRequest> {
  const prepared = prepareCreateSession({ ...id, algorithm: id.signer.algorithm }, params, region, host, nowMs);
  return withSignature(prepared, await id.signer.sign(Buffer.from(prepared.stringToSign, 'utf8')));
}
