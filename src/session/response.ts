/**
 * CreateSession responses (pure): a 2xx body becomes Credentials only when every field is
 * there and well-formed; anything else becomes a typed error. An empty or partial answer
 * is never turned into credentials (the official helper served empty credentials with
 * `Code: Success`; see docs/official-helper.md). No message here ever contains a
 * credential value.
 */
import type { Credentials } from '../core/credentials.js';
import { SidecarError, oneLine, type ErrorCode } from '../core/errors.js';
import { accountIdOfRoleArn } from './arn.js';

export interface SessionResult {
  readonly credentials: Credentials;
  /** `arn:aws:rolesanywhere:<region>:<account>:subject/<uuid>` when the service returns it. */
  readonly subjectArn?: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>` when the service returns it. */
  readonly assumedRoleArn?: string;
}

export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface ServiceErrorContext {
  /** Host the request went to, for the message. */
  readonly host?: string;
  /** Region the request was signed for, for the message. */
  readonly region?: string;
  /** Attempts made so far; mentioned when more than one. */
  readonly attempts?: number;
}

/*
 * A real response is a few KiB (the session token is the largest field); 1 MiB leaves
 * room for anything legitimate while keeping a misbehaving endpoint from filling memory.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

const MAX_ACCESS_KEY_ID = 128;
const MAX_SECRET_ACCESS_KEY = 1024;
// STS tokens are a few KiB; 64 KiB is generous but still bounded.
const MAX_SESSION_TOKEN = 64 * 1024;
const MAX_ARN = 2048;
/*
 * Credentials end up in INI files, environment variables and HTTP headers, so a value
 * with whitespace or control characters could inject lines there; real values are base64
 * or alphanumeric, i.e. printable ASCII without spaces.
 */
const TOKENISH = /^[\x21-\x7e]+$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;
const MAX_SERVICE_MESSAGE = 300;

/** First value of a header, case-insensitively. */
export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== want || v === undefined) continue;
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function malformed(what: string, host?: string): SidecarError {
  const where = host !== undefined ? ` from ${host}` : '';
  return new SidecarError(
    'RESPONSE_MALFORMED',
    `the CreateSession response${where} ${what}: check that --endpoint points at IAM Roles Anywhere (or a proxy that passes responses through unchanged)`,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireToken(obj: Record<string, unknown>, key: string, path: string, max: number, host?: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) throw malformed(`has no ${path} (or it is not a non-empty string)`, host);
  if (v.length > max) throw malformed(`has a ${path} longer than ${max} characters`, host);
  if (!TOKENISH.test(v)) throw malformed(`has a ${path} containing whitespace or non-ASCII characters`, host);
  return v;
}

function optionalArn(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ARN && TOKENISH.test(v) ? v : undefined;
}

/**
 * Turns a CreateSession answer into a SessionResult, or throws: a non-2xx status becomes
 * the matching SERVICE_* error (see `serviceError`), a 2xx that is not a complete answer
 * becomes RESPONSE_MALFORMED naming the missing field. `expiration` is checked to be a
 * date, not to be in the future: the caller owns the clock.
 */
export function parseCreateSessionResponse(status: number, headers: ResponseHeaders, body: string, context: ServiceErrorContext = {}): SessionResult {
  if (status < 200 || status > 299) throw serviceError(status, headers, body, context);
  const host = context.host;
  if (Buffer.byteLength(body, 'utf8') > MAX_RESPONSE_BYTES) throw malformed(`is larger than ${MAX_RESPONSE_BYTES} bytes`, host);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw malformed(`(HTTP ${status}) is not JSON`, host);
  }
  if (!isObject(doc)) throw malformed('is not a JSON object', host);
  const set = doc.credentialSet;
  if (!Array.isArray(set)) throw malformed('has no credentialSet array', host);
  if (set.length === 0) throw malformed('has an empty credentialSet', host);
  const first: unknown = set[0];
  if (!isObject(first)) throw malformed('has a credentialSet[0] that is not an object', host);
  const c = first.credentials;
  if (!isObject(c)) throw malformed('has no credentialSet[0].credentials object', host);
  const p = 'credentialSet[0].credentials';
  const accessKeyId = requireToken(c, 'accessKeyId', `${p}.accessKeyId`, MAX_ACCESS_KEY_ID, host);
  const secretAccessKey = requireToken(c, 'secretAccessKey', `${p}.secretAccessKey`, MAX_SECRET_ACCESS_KEY, host);
  const sessionToken = requireToken(c, 'sessionToken', `${p}.sessionToken`, MAX_SESSION_TOKEN, host);
  const exp = c.expiration;
  if (typeof exp !== 'string' || exp.length === 0) throw malformed(`has no ${p}.expiration`, host);
  const expiration = ISO_DATE.test(exp) ? Date.parse(exp) : Number.NaN;
  // The expiration is not a secret, but bound it anyway since it is echoed.
  if (Number.isNaN(expiration)) throw malformed(`has a ${p}.expiration that is not an ISO 8601 date ("${oneLine(exp, 40)}")`, host);

  const roleArn = optionalArn(first.roleArn);
  const accountId = roleArn !== undefined ? accountIdOfRoleArn(roleArn) : undefined;
  const assumed = isObject(first.assumedRoleUser) ? optionalArn(first.assumedRoleUser.arn) : undefined;
  const subjectArn = optionalArn(doc.subjectArn);
  const credentials: Credentials = {
    accessKeyId,
    secretAccessKey,
    sessionToken,
    expiration,
    ...(roleArn !== undefined ? { roleArn } : {}),
    ...(accountId !== undefined ? { accountId } : {}),
  };
  return {
    credentials,
    ...(subjectArn !== undefined ? { subjectArn } : {}),
    ...(assumed !== undefined ? { assumedRoleArn: assumed } : {}),
  };
}

/** `AccessDeniedException:http://internal...` and `com.amazonaws.x#AccessDeniedException` -> `AccessDeniedException`. */
function normaliseErrorType(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let t = raw.split(':')[0] ?? '';
  const hash = t.lastIndexOf('#');
  if (hash >= 0) t = t.slice(hash + 1);
  t = t.trim();
  return /^[A-Za-z0-9_.-]{1,100}$/.test(t) ? t : undefined;
}

function parseErrorBody(body: string): { type?: string; message?: string } {
  if (body.length === 0 || Buffer.byteLength(body, 'utf8') > MAX_RESPONSE_BYTES) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return {};
  }
  if (!isObject(doc)) return {};
  const type = [doc.__type, doc.code, doc.Code].find((v): v is string => typeof v === 'string');
  const message = [doc.message, doc.Message].find((v): v is string => typeof v === 'string');
  return { ...(type !== undefined ? { type } : {}), ...(message !== undefined ? { message } : {}) };
}

function cleanServiceMessage(m: string): string {
  // Control characters from a remote party must not reach a terminal or a log line.
  return oneLine(m.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '), MAX_SERVICE_MESSAGE);
}

/**
 * Maps a non-2xx CreateSession answer to a SidecarError. The error type comes from the
 * `X-Amzn-ErrorType` header or the body's `__type`/`code`; the service's own message is
 * quoted (bounded, one line) because it is usually the most precise hint (e.g. "Untrusted
 * certificate. Insufficient certificate"). The type wins over the status when both are known.
 */
export function serviceError(status: number, headers: ResponseHeaders, body: string, context: ServiceErrorContext = {}): SidecarError {
  const parsed = parseErrorBody(body);
  const errorType = normaliseErrorType(headerValue(headers, 'x-amzn-errortype')) ?? normaliseErrorType(parsed.type);
  const requestIdRaw = headerValue(headers, 'x-amzn-requestid') ?? headerValue(headers, 'x-amz-request-id');
  const requestId = requestIdRaw !== undefined && /^[A-Za-z0-9-]{1,128}$/.test(requestIdRaw) ? requestIdRaw : undefined;
  const serviceMessage = parsed.message !== undefined ? cleanServiceMessage(parsed.message) : undefined;

  const host = context.host ?? 'the endpoint';
  const what = [`HTTP ${status}`, errorType].filter((x) => x !== undefined).join(' ');
  const quoted = serviceMessage !== undefined && serviceMessage !== '' ? `: "${serviceMessage}"` : '';
  const after = context.attempts !== undefined && context.attempts > 1 ? ` after ${context.attempts} attempts` : '';
  const reqId = requestId !== undefined ? ` [request id ${requestId}]` : '';
  const region = context.region !== undefined ? ` in ${context.region}` : '';

  let code: ErrorCode;
  let fix: string;
  const t = errorType ?? '';
  if (t === 'ThrottlingException' || t === 'TooManyRequestsException' || status === 429) {
    code = 'SERVICE_THROTTLED';
    fix =
      'CreateSession is rate-limited per account and region; cache credentials (serve/update) instead of creating a session per SDK call, or spread clients out';
  } else if (status >= 500 && status <= 599) {
    code = 'SERVICE_UNAVAILABLE';
    fix = 'the service or a proxy in between is failing; it is retried, or try again later';
  } else if (t === 'AccessDeniedException' || status === 403) {
    code = 'SERVICE_ACCESS_DENIED';
    fix =
      "check that the certificate is valid and chains to the trust anchor, that the trust anchor and profile are enabled, and that the role's trust policy allows rolesanywhere.amazonaws.com";
  } else if (t === 'ValidationException' || status === 400) {
    code = 'SERVICE_VALIDATION';
    fix = "check the trust anchor, profile and role ARNs and --session-duration (900-43200 seconds, at most the profile's maximum)";
  } else if (t === 'ResourceNotFoundException' || status === 404) {
    code = 'SERVICE_NOT_FOUND';
    fix = `check that the trust anchor and profile ARNs exist${region} and that --endpoint points at IAM Roles Anywhere`;
  } else {
    code = 'SERVICE_ERROR';
    fix = 'check that --endpoint points at IAM Roles Anywhere';
  }
  return new SidecarError(code, `CreateSession at ${host} failed with ${what}${quoted}${after}${reqId}: ${fix}`, {
    details: { status, errorType, requestId },
  });
}
