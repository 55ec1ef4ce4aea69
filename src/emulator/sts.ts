/**
 * STS on the emulator, for credentials the emulator issued: GetCallerIdentity, and
 * AssumeRole (role chaining after CreateSession; decided in assume-role.ts). Real SDKs
 * (JS v3 `@aws-sdk/client-sts`, boto3, the CLI) call it with the query protocol: a form
 * POST to `/` (`Action=GetCallerIdentity&Version=2011-06-15`), or a GET with the same
 * query. The SigV4 (HMAC) signature is checked by re-signing the received request with the
 * AWS SDK's own signer (`@smithy/signature-v4`) and the issued secret, so the emulator
 * agrees with every SDK by construction rather than by a second implementation.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Random } from '../core/clock.js';
import { decideAssumeRole, type StsSettings } from './assume-role.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { parseAuthorization, sha256Hex } from '../signing/canonical.js';
import { DEFAULT_MAX_CLOCK_SKEW_MS } from './config.js';
import { mintAccessKeyId, mintSecretAccessKey, mintSessionToken, roleId, type IssuedSecret, type IssuedStore } from './issuer.js';
import { MAX_BODY_BYTES, parseAmzDate, type ReceivedRequest } from './verifier.js';

export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const STS_VERSION = '2011-06-15';

export interface StsContext {
  readonly store: IssuedStore;
  readonly nowMs: number;
  readonly requestId: string;
  readonly maxClockSkewMs?: number;
  /** Needed for AssumeRole, which mints credentials. */
  readonly random?: Random;
  /** Roles AssumeRole may hand out; none when absent (every AssumeRole is AccessDenied). */
  readonly settings?: StsSettings;
  /** Default `aws`. */
  readonly partition?: string;
  /** Caps the lifetime of chained credentials as CreateSession's are capped (tests of refresh). */
  readonly credentialLifetimeSeconds?: number;
}

export interface StsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly ok: boolean;
  /** STS error code when not ok, for logs and stats. */
  readonly code?: string;
  readonly accessKeyId?: string;
  readonly action?: string;
  /** AssumeRole: the session it issued (no secrets are logged from it). */
  readonly issued?: IssuedSecret;
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function stsError(status: number, code: string, message: string, requestId: string, accessKeyId?: string): StsResponse {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  const body =
    `<ErrorResponse xmlns="${STS_XMLNS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${xmlEscape(code)}</Code>\n` +
    `    <Message>${xmlEscape(message)}</Message>\n  </Error>\n  <RequestId>${xmlEscape(requestId)}</RequestId>\n</ErrorResponse>\n`;
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body,
    ok: false,
    code,
    ...(accessKeyId !== undefined ? { accessKeyId } : {}),
  };
}

/** Form/query decoding as the query protocol does it: `+` is a space. */
function formPairs(s: string): Array<[string, string]> {
  return [...new URLSearchParams(s)];
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function handleSts(req: ReceivedRequest, ctx: StsContext): Promise<StsResponse> {
  const rid = ctx.requestId;
  if (req.method !== 'POST' && req.method !== 'GET') {
    return stsError(405, 'InvalidAction', `STS answers GET and POST on /, not ${req.method.slice(0, 10)}`, rid);
  }
  if (req.body.length > MAX_BODY_BYTES) return stsError(400, 'ValidationError', `the request body is larger than ${MAX_BODY_BYTES} bytes`, rid);

  const headers = new Map<string, string[]>();
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    headers.set(lower, [...(headers.get(lower) ?? []), value]);
  }
  const header = (name: string): string | undefined => headers.get(name)?.[0];

  const params = formPairs(req.rawQuery);
  const contentType = header('content-type') ?? '';
  if (req.method === 'POST' && req.body.length > 0) {
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return stsError(400, 'InvalidParameterValue', 'STS takes a form body (Content-Type: application/x-www-form-urlencoded)', rid);
    }
    params.push(...formPairs(req.body.toString('utf8')));
  }
  const action = params.find(([k]) => k === 'Action')?.[1];
  const version = params.find(([k]) => k === 'Version')?.[1];
  if (action === undefined) return stsError(400, 'MissingAction', 'the request has no Action parameter: send Action=GetCallerIdentity&Version=2011-06-15', rid);
  if ((action !== 'GetCallerIdentity' && action !== 'AssumeRole') || version !== STS_VERSION) {
    return stsError(
      400,
      'InvalidAction',
      `Could not find operation ${action.slice(0, 60)} for version ${(version ?? '').slice(0, 20)}: the emulator implements GetCallerIdentity and AssumeRole (Version ${STS_VERSION})`,
      rid,
    );
  }

  const authHeader = header('authorization');
  if (authHeader === undefined) {
    return stsError(
      403,
      'MissingAuthenticationToken',
      'Request is missing Authentication Token: sign it with SigV4 (presigned URLs are not supported by the emulator)',
      rid,
    );
  }
  const auth = parseAuthorization(authHeader);
  if (auth === undefined || auth.algorithm !== 'AWS4-HMAC-SHA256') {
    return stsError(
      400,
      'IncompleteSignature',
      'the Authorization header is not AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/sts/aws4_request, SignedHeaders=..., Signature=...',
      rid,
    );
  }
  const accessKeyId = auth.serial;
  if (auth.service !== 'sts' || auth.terminator !== 'aws4_request') {
    return stsError(
      403,
      'SignatureDoesNotMatch',
      `Credential should be scoped to correct service: 'sts' (got '${auth.service.slice(0, 40)}/${auth.terminator.slice(0, 40)}')`,
      rid,
      accessKeyId,
    );
  }
  const amzDate = header('x-amz-date');
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || signedAt === undefined) {
    return stsError(400, 'IncompleteSignature', 'the request has no valid X-Amz-Date header (YYYYMMDDTHHMMSSZ)', rid, accessKeyId);
  }
  const skew = ctx.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (Math.abs(ctx.nowMs - signedAt) > skew) {
    return stsError(
      403,
      'SignatureDoesNotMatch',
      `Signature expired: ${amzDate} is more than ${skew / 1000} s from the server time ${new Date(ctx.nowMs).toISOString()}; check the client's clock`,
      rid,
      accessKeyId,
    );
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    return stsError(403, 'SignatureDoesNotMatch', `the credential scope date ${auth.date} does not match X-Amz-Date ${amzDate}`, rid, accessKeyId);
  }

  const issued = ctx.store.get(accessKeyId);
  const token = header('x-amz-security-token');
  if (issued === undefined || token === undefined || !sameSecret(token, issued.sessionToken)) {
    return stsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.', rid, accessKeyId);
  }
  if (ctx.nowMs >= issued.expiration) {
    return stsError(403, 'ExpiredToken', 'The security token included in the request is expired', rid, accessKeyId);
  }

  const signed = new Set(auth.signedHeaders);
  if (!signed.has('host') || !signed.has('x-amz-date')) {
    return stsError(403, 'SignatureDoesNotMatch', 'SignedHeaders must include host and x-amz-date', rid, accessKeyId);
  }
  const declaredHash = header('x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== sha256Hex(req.body)) {
    return stsError(403, 'SignatureDoesNotMatch', 'the x-amz-content-sha256 header does not match the SHA-256 of the body', rid, accessKeyId);
  }

  // Only the headers the client signed take part; the signer adds x-amz-date (from
  // signingDate) and x-amz-security-token (from the credentials) itself.
  const toSign: Record<string, string> = {};
  for (const name of signed) {
    const values = headers.get(name);
    if (values === undefined) {
      return stsError(403, 'SignatureDoesNotMatch', `SignedHeaders lists ${name.slice(0, 60)}, which the request does not carry`, rid, accessKeyId);
    }
    if (name !== 'x-amz-date' && name !== 'x-amz-security-token') toSign[name] = values.join(',');
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of formPairs(req.rawQuery)) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signer = new SignatureV4({
    service: 'sts',
    // SDKs sign STS with whatever region they are configured for; the scope's region is used as is.
    region: auth.region,
    credentials: {
      accessKeyId,
      secretAccessKey: issued.secretAccessKey,
      ...(signed.has('x-amz-security-token') ? { sessionToken: issued.sessionToken } : {}),
    },
    sha256: Sha256,
    applyChecksum: false,
  });
  const hostHeader = header('host') ?? 'localhost';
  const resigned = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: hostHeader.replace(/:\d+$/, ''),
      path: req.path,
      query,
      headers: toSign,
      body: req.body.length > 0 ? req.body.toString('utf8') : undefined,
    },
    { signingDate: new Date(signedAt), signingRegion: auth.region, signingService: 'sts', signableHeaders: signed },
  );
  const expected = /Signature=([0-9a-f]+)$/.exec(String(resigned.headers.authorization ?? ''))?.[1] ?? '';
  const expectedSigned = /SignedHeaders=([^,]+),/.exec(String(resigned.headers.authorization ?? ''))?.[1] ?? '';
  if (expectedSigned !== auth.signedHeaders.join(';') || !sameSecret(expected, auth.signatureHex)) {
    return stsError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      rid,
      accessKeyId,
    );
  }

  if (action === 'AssumeRole') return assumeRole(params, issued, auth.region, ctx);
  const body =
    `<GetCallerIdentityResponse xmlns="${STS_XMLNS}">\n  <GetCallerIdentityResult>\n` +
    `    <Arn>${xmlEscape(issued.assumedRoleArn)}</Arn>\n    <UserId>${xmlEscape(issued.assumedRoleId)}</UserId>\n` +
    `    <Account>${xmlEscape(issued.accountId)}</Account>\n  </GetCallerIdentityResult>\n` +
    `  <ResponseMetadata>\n    <RequestId>${xmlEscape(rid)}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`;
  return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': rid }, body, ok: true, accessKeyId, action };
}

function assumeRole(pairs: ReadonlyArray<[string, string]>, caller: IssuedSecret, signingRegion: string, ctx: StsContext): StsResponse {
  const rid = ctx.requestId;
  // The first value of a repeated parameter counts, as for Action.
  const params = new Map<string, string>();
  for (const [k, v] of pairs) if (!params.has(k)) params.set(k, v);
  const partition = ctx.partition ?? 'aws';
  const decision = decideAssumeRole(
    params,
    {
      roleArn: caller.roleArn,
      assumedRoleArn: caller.assumedRoleArn,
      accountId: caller.accountId,
      ...(caller.sourceIdentity !== undefined ? { sourceIdentity: caller.sourceIdentity } : {}),
      ...(caller.transitiveTags !== undefined ? { transitiveTags: caller.transitiveTags } : {}),
    },
    ctx.settings ?? { roles: [] },
    { signingRegion, partition },
  );
  if (!decision.ok) return { ...stsError(decision.status, decision.code, decision.message, rid, caller.accessKeyId), action: 'AssumeRole' };
  if (ctx.random === undefined) throw new Error('AssumeRole needs a random source in the STS context');
  const g = decision.grant;
  const lifetime = Math.min(g.durationSeconds, ctx.credentialLifetimeSeconds ?? Number.POSITIVE_INFINITY);
  const expiration = Math.floor(ctx.nowMs / 1000) * 1000 + lifetime * 1000;
  const assumedRoleArn = `arn:${partition}:sts::${g.accountId}:assumed-role/${g.roleName}/${g.sessionName}`;
  const issued: IssuedSecret = {
    accessKeyId: mintAccessKeyId(ctx.random),
    secretAccessKey: mintSecretAccessKey(ctx.random),
    sessionToken: mintSessionToken(ctx.random),
    roleArn: g.roleArn,
    assumedRoleArn,
    assumedRoleId: `${roleId(g.roleArn)}:${g.sessionName}`,
    accountId: g.accountId,
    sessionName: g.sessionName,
    issuedAt: ctx.nowMs,
    expiration,
    serialDecimal: caller.serialDecimal,
    fingerprint: caller.fingerprint,
    profileArn: caller.profileArn,
    trustAnchorArn: caller.trustAnchorArn,
    kind: 'assume-role',
    ...(g.sourceIdentity !== undefined ? { sourceIdentity: g.sourceIdentity } : {}),
    sourceRoleArn: caller.roleArn,
    externalIdUsed: g.externalIdUsed,
    tags: g.tags,
    transitiveTags: g.transitiveTags,
    policyArns: g.policyArns,
    hasSessionPolicy: g.policy !== undefined,
  };
  ctx.store.add(issued);
  const body =
    `<AssumeRoleResponse xmlns="${STS_XMLNS}">\n  <AssumeRoleResult>\n` +
    (g.sourceIdentity !== undefined ? `    <SourceIdentity>${xmlEscape(g.sourceIdentity)}</SourceIdentity>\n` : '') +
    `    <AssumedRoleUser>\n      <AssumedRoleId>${xmlEscape(issued.assumedRoleId)}</AssumedRoleId>\n      <Arn>${xmlEscape(assumedRoleArn)}</Arn>\n    </AssumedRoleUser>\n` +
    `    <Credentials>\n      <AccessKeyId>${issued.accessKeyId}</AccessKeyId>\n      <SecretAccessKey>${xmlEscape(issued.secretAccessKey)}</SecretAccessKey>\n` +
    `      <SessionToken>${xmlEscape(issued.sessionToken)}</SessionToken>\n      <Expiration>${new Date(expiration).toISOString()}</Expiration>\n    </Credentials>\n` +
    (g.packedPolicySize !== undefined ? `    <PackedPolicySize>${g.packedPolicySize}</PackedPolicySize>\n` : '') +
    `  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>${xmlEscape(rid)}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n`;
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': rid },
    body,
    ok: true,
    accessKeyId: caller.accessKeyId,
    action: 'AssumeRole',
    issued,
  };
}
