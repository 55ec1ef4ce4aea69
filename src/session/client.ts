/**
 * The CreateSession client: signs, sends, validates, and retries transient failures.
 *
 * This is the one retry layer for a single credential fetch (the transports retry nothing
 * themselves). Every attempt is signed afresh, with the identity as it is at that moment (a
 * rotated certificate is picked up on the next attempt) and a new X-Amz-Date, so a retry
 * after a long Retry-After is never refused for a stale signature.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import type { CredentialSource, Credentials } from '../core/credentials.js';
import { SidecarError, isSidecarError, oneLine, toSidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { nullLogger, type Logger } from '../core/logger.js';
import { signCreateSession, signingIdentityOf, type CreateSessionParams } from '../signing/create-session.js';
import { accountIdOfRoleArn } from './arn.js';
import type { ResolvedEndpoint } from './endpoint.js';
import type { SessionDispatcher } from './http.js';
import { BODY_TIMEOUT, CONNECT_TIMEOUT, HEADERS_TIMEOUT } from './node-dispatcher.js';
import { MAX_RESPONSE_BYTES, headerValue, parseCreateSessionResponse, serviceError, type SessionResult } from './response.js';
import { DEFAULT_RETRY_POLICY, backoffDelayMs, isRetryableStatus, parseRetryAfter, type RetryPolicy } from './retry.js';

export const USER_AGENT_PRODUCT = 'rolesanywhere-sidecar';

/** `rolesanywhere-sidecar/<version>`, the User-Agent the client sends. */
export function userAgentFor(version: string): string {
  return `${USER_AGENT_PRODUCT}/${version}`;
}

export interface AttemptEvent {
  readonly outcome: 'success' | 'error';
  /** SidecarError code of a failed attempt. */
  readonly code?: string;
  /** HTTP status when a response arrived. */
  readonly status?: number;
  readonly durationMs: number;
  /** 1-based. */
  readonly attempt: number;
}

export interface CreateSessionClientOptions {
  readonly endpoint: Pick<ResolvedEndpoint, 'url' | 'region' | 'host'>;
  readonly params: CreateSessionParams;
  /** Called on every attempt, so a reloaded (rotated) identity is used from the next attempt on. */
  readonly identity: () => Identity;
  readonly dispatcher: SessionDispatcher;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  readonly retry?: RetryPolicy;
  /** Waits between attempts; rejects when `signal` aborts. Tests pass one that moves a ManualClock. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Per-attempt hook (metrics). Exceptions it throws are ignored. */
  readonly onAttempt?: (e: AttemptEvent) => void;
  /** e.g. `http://proxy:3128` (no credentials), named in ENDPOINT_UNREACHABLE messages. */
  readonly proxyDescription?: string;
  /** e.g. `--ca-bundle /etc/ssl/corp.pem`, named in TLS_FAILURE messages. */
  readonly caDescription?: string;
  /** Full User-Agent header value; see `userAgentFor`. */
  readonly userAgent?: string;
  /** Whether `close()` closes the dispatcher (default true). False when it is shared. */
  readonly ownsDispatcher?: boolean;
  /**
   * Called when the clock offset used for signing changes: the measured skew (server time
   * minus local time, ms) when a refusal's `Date` showed it, 0 when the correction is dropped.
   */
  readonly onClockSkew?: (offsetMs: number) => void;
}

/**
 * SigV4 signatures are accepted within 5 minutes of the server's time (see the AWS docs,
 * "Signature Version 4 signing process": "the request must reach AWS within five minutes of
 * the time stamp"). A refused request whose response `Date` is further away than that was
 * refused because of this host's clock.
 */
export const SIGNING_WINDOW_MS = 5 * 60 * 1000;
/** `Date` has a resolution of one second and the response took a while to arrive. */
const DATE_RESOLUTION_MS = 1000;

const defaultSleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
  await delay(ms, undefined, signal === undefined ? undefined : { signal });
};

/* Certificate verification failures: a retry cannot fix them, the configuration must change. */
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);
const TLS_VALIDITY_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const TLS_NAME_CODES = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
/* undici's (the proxy transport) and node-dispatcher.ts's, which mean the same phases. */
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  CONNECT_TIMEOUT,
  HEADERS_TIMEOUT,
  BODY_TIMEOUT,
  'ETIMEDOUT',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_RETRY',
]);

/** Codes on an error, its `cause` chain and an AggregateError's `errors`, bounded in depth and breadth. */
function errorCodes(e: unknown, depth = 0, out: string[] = []): string[] {
  if (depth > 4 || typeof e !== 'object' || e === null) return out;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.length <= 64) out.push(code);
  const errors = (e as { errors?: unknown }).errors;
  if (Array.isArray(errors)) for (const x of errors.slice(0, 8)) errorCodes(x, depth + 1, out);
  errorCodes((e as { cause?: unknown }).cause, depth + 1, out);
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

class BodyTooLarge extends Error {}

/** Reads a response body, refusing more than `max` bytes (the rest is discarded, the socket closed). */
async function readBounded(body: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > max) {
      body.destroy();
      throw new BodyTooLarge();
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The clock correction (pure): given the response `Date` and the local time it arrived at,
 * the offset to sign with next, or undefined to keep the current one. Only a refused request
 * (401/403) may change it, and only when its `Date` is outside the signing window of the time
 * that was signed, so a correct clock is never "corrected" by one odd response: the offset is
 * set to the measured skew when the local clock is off by more than the window, and dropped
 * when the local clock is right again (NTP stepped it) but the offset made the request late.
 */
export function nextClockOffset(opts: {
  readonly status: number;
  readonly serverDateMs: number | undefined;
  readonly localMs: number;
  readonly currentOffsetMs: number;
}): number | undefined {
  const { status, serverDateMs, localMs, currentOffsetMs } = opts;
  if (status !== 401 && status !== 403) return undefined;
  if (serverDateMs === undefined || !Number.isFinite(serverDateMs)) return undefined;
  // Date is truncated to the second: the server's time was in [Date, Date + 1 s).
  const measured = serverDateMs + DATE_RESOLUTION_MS / 2 - 1 - localMs;
  const signedOff = Math.abs(measured - currentOffsetMs);
  if (signedOff <= SIGNING_WINDOW_MS + DATE_RESOLUTION_MS) return undefined; // refused for another reason
  if (Math.abs(measured) <= SIGNING_WINDOW_MS) return 0;
  // Whole seconds: Date carries no more, and a rounded offset keeps log lines stable.
  return Math.round(measured / 1000) * 1000;
}

/** The `Date` response header as epoch ms, or undefined when absent or not an HTTP date. */
export function parseDateHeader(v: string | undefined): number | undefined {
  if (v === undefined || v.length > 64 || !/^[A-Za-z]{3},? [A-Za-z0-9 :-]+$/.test(v.trim())) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

function describeSkew(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [h > 0 ? `${h} h` : '', m > 0 ? `${m} min` : '', s % 60 > 0 || s < 60 ? `${s % 60} s` : ''].filter((x) => x !== '');
  return `${parts.join(' ')} ${ms < 0 ? 'ahead of' : 'behind'}`;
}

export class CreateSessionClient implements CredentialSource {
  private readonly clock: Clock;
  /** Server time minus local time, applied to signing times and expirations; 0 when the clock is right. */
  private offsetMs = 0;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly userAgent: string;

  constructor(private readonly opts: CreateSessionClientOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.logger = opts.logger ?? nullLogger;
    this.retry = opts.retry ?? DEFAULT_RETRY_POLICY;
    this.sleep = opts.sleep ?? defaultSleep;
    this.userAgent = opts.userAgent ?? USER_AGENT_PRODUCT;
    if (!Number.isInteger(this.retry.maxAttempts) || this.retry.maxAttempts < 1 || this.retry.maxAttempts > 100) {
      throw new SidecarError('CONFIG_INVALID', `retry maxAttempts ${this.retry.maxAttempts} is out of range: use 1 to 100`);
    }
  }

  async getCredentials(signal?: AbortSignal): Promise<Credentials> {
    return (await this.createSession(signal)).credentials;
  }

  /**
   * One credential fetch, with retries of transient failures. Rejects with a SidecarError,
   * or with `signal.reason` when aborted.
   */
  async createSession(signal?: AbortSignal): Promise<SessionResult> {
    const max = this.retry.maxAttempts;
    let clockCorrected = false;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const started = this.clock.now();
      let status: number | undefined;
      let retryAfterMs: number | undefined;
      let serverDate: { serverMs: number; localMs: number } | undefined;
      try {
        const r = await this.attempt(attempt, signal);
        status = r.status;
        retryAfterMs = r.retryAfterMs;
        if (r.serverDateMs !== undefined) serverDate = { serverMs: r.serverDateMs, localMs: r.localMs };
        // attempt() returns an error whenever it returns no result.
        if (r.result === undefined) throw r.error!;
        this.report({ outcome: 'success', status, durationMs: this.clock.now() - started, attempt });
        this.logger.debug('CreateSession succeeded', {
          host: this.opts.endpoint.host,
          attempt,
          status,
          expiration: new Date(r.result.credentials.expiration).toISOString(),
        });
        if (r.result.credentials.expiration <= this.clock.now()) {
          this.logger.warn('CreateSession returned credentials that are already expired by the local clock; check the system time', {
            expiration: new Date(r.result.credentials.expiration).toISOString(),
          });
        }
        return r.result;
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        const err = isSidecarError(e) ? e : this.classify(e, attempt);
        this.report({ outcome: 'error', code: err.code, ...(status !== undefined ? { status } : {}), durationMs: this.clock.now() - started, attempt });
        // A refusal caused by this host's clock is signed again at once with the corrected
        // time, once per call, whatever the retry policy: it is not a transient failure that
        // waiting would fix, and a one-attempt policy must not turn it into an outage.
        if (!clockCorrected && status !== undefined && this.correctClock(status, serverDate)) {
          clockCorrected = true;
          attempt--;
          continue;
        }
        // The caller that owns the backoff (the refresher) honours the server's Retry-After.
        const last = !err.retryable || attempt >= max || (err.code === 'SERVICE_THROTTLED' && this.retry.retryThrottled === false);
        if (last) throw withAttempts(err, attempt, err.retryable ? retryAfterMs : undefined);
        const wait = backoffDelayMs(attempt, this.retry, this.random.float(), retryAfterMs);
        this.logger.warn('CreateSession attempt failed, retrying', {
          code: err.code,
          status,
          attempt,
          maxAttempts: max,
          delayMs: wait,
          host: this.opts.endpoint.host,
          requestId: err.details.requestId,
          error: err.message,
        });
        try {
          await this.sleep(wait, signal);
        } catch (sleepError) {
          if (signal?.aborted) throw signal.reason;
          throw sleepError;
        }
      }
    }
  }

  /** Server time minus local time that signing uses now (0 unless a refusal showed this host's clock is off). */
  clockOffsetMs(): number {
    return this.offsetMs;
  }

  /** Applies `nextClockOffset`; true when the offset changed (the request should be signed again). */
  private correctClock(status: number, date: { serverMs: number; localMs: number } | undefined): boolean {
    const next = nextClockOffset({
      status,
      serverDateMs: date?.serverMs,
      localMs: date?.localMs ?? 0,
      currentOffsetMs: this.offsetMs,
    });
    if (next === undefined || next === this.offsetMs) return false;
    this.offsetMs = next;
    const host = this.opts.endpoint.host;
    if (next === 0) {
      this.logger.warn('the host clock agrees with the endpoint again: signing with the local time, clock correction dropped', { host });
    } else {
      this.logger.warn(
        `the host clock is ${describeSkew(next)} the time of ${host} (its Date header), outside the 5-minute signing window: signing with the corrected time from now on; fix this host's time synchronisation (NTP/chrony)`,
        { host, clockSkewSeconds: next / 1000 },
      );
    }
    try {
      this.opts.onClockSkew?.(next);
    } catch {
      // A metrics hook must not break a credential fetch.
    }
    return true;
  }

  /** Closes the dispatcher when this client owns it. */
  async close(): Promise<void> {
    if (this.opts.ownsDispatcher !== false) await this.opts.dispatcher.close();
  }

  private report(e: AttemptEvent): void {
    try {
      this.opts.onAttempt?.(e);
    } catch {
      // A metrics hook must not turn a good answer into a failure.
    }
  }

  /**
   * One signed request. Transport failures throw; an HTTP answer returns its status and
   * either a result or the mapped error, so the caller knows the status and Retry-After.
   */
  private async attempt(
    attempt: number,
    signal?: AbortSignal,
  ): Promise<{ status: number; localMs: number; retryAfterMs?: number; serverDateMs?: number; result?: SessionResult; error?: SidecarError }> {
    const { endpoint, params } = this.opts;
    const identity = this.opts.identity();
    const signed = await signCreateSession(signingIdentityOf(identity), params, endpoint.region, endpoint.host, this.clock.now() + this.offsetMs);
    const headers: Record<string, string> = {};
    for (const [name, value] of signed.headers) headers[name] = value;
    headers['User-Agent'] = this.userAgent;

    const res = await this.opts.dispatcher.request({
      origin: endpoint.url.origin,
      path: signed.pathAndQuery,
      method: signed.method,
      headers,
      body: signed.body,
      ...(signal !== undefined ? { signal } : {}),
    });
    const status = res.statusCode;
    const localMs = this.clock.now();
    const context = { host: endpoint.host, region: endpoint.region, attempts: attempt };
    const retryAfterMs = isRetryableStatus(status) ? parseRetryAfter(headerValue(res.headers, 'retry-after'), this.clock.now()) : undefined;
    const serverDateMs = parseDateHeader(headerValue(res.headers, 'date'));
    const base = {
      status,
      localMs,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(serverDateMs !== undefined ? { serverDateMs } : {}),
    };
    const declared = Number(headerValue(res.headers, 'content-length') ?? '0');
    let text: string;
    try {
      if (declared > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        throw new BodyTooLarge();
      }
      text = await readBounded(res.body, MAX_RESPONSE_BYTES);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      if (status >= 200 && status <= 299) {
        return {
          ...base,
          error: new SidecarError(
            'RESPONSE_MALFORMED',
            `the CreateSession response from ${endpoint.host} is larger than ${MAX_RESPONSE_BYTES} bytes: check that --endpoint points at IAM Roles Anywhere`,
          ),
        };
      }
      // An oversized error page still tells us the status; its text is not needed.
      return { ...base, error: serviceError(status, res.headers, '', context) };
    }
    if (status < 200 || status > 299) return { ...base, error: serviceError(status, res.headers, text, context) };
    try {
      const parsed = parseCreateSessionResponse(status, res.headers, text, context);
      return { ...base, result: this.withRoleDefaults(parsed) };
    } catch (e) {
      return { ...base, error: toSidecarError(e, 'RESPONSE_MALFORMED') };
    }
  }

  /** The service always returns roleArn today; if it ever does not, the requested role is the right one. */
  private withRoleDefaults(parsed: SessionResult): SessionResult {
    // Expirations are the server's time; everything downstream (refresh plans, the
    // never-serve-expired checks, the SDKs on this host) compares them with the local clock.
    const r = this.offsetMs === 0 ? parsed : { ...parsed, credentials: { ...parsed.credentials, expiration: parsed.credentials.expiration - this.offsetMs } };
    if (r.credentials.roleArn !== undefined) return r;
    const roleArn = this.opts.params.roleArn;
    const accountId = accountIdOfRoleArn(roleArn);
    return { ...r, credentials: { ...r.credentials, roleArn, ...(accountId !== undefined ? { accountId } : {}) } };
  }

  /** Maps a transport failure (Node network and TLS errors, the transports' timeouts, undici's codes) to a SidecarError. */
  private classify(e: unknown, attempts: number): SidecarError {
    const { host } = this.opts.endpoint;
    const codes = errorCodes(e);
    const raw = e instanceof Error ? oneLine(e.message, 200) : oneLine(String(e), 200);
    const code = codes[0] ?? 'no error code';
    const after = `after ${plural(attempts, 'attempt')}`;
    const via = this.opts.proxyDescription !== undefined ? ` via proxy ${this.opts.proxyDescription}` : '';
    const ca = `--ca-bundle / AWS_CA_BUNDLE (now: ${this.opts.caDescription ?? 'not set, Node.js default roots only'})`;
    const details = { host, attempts, cause: code };

    const tlsCode = codes.find(
      (c) =>
        TLS_TRUST_CODES.has(c) ||
        TLS_VALIDITY_CODES.has(c) ||
        TLS_NAME_CODES.has(c) ||
        c === 'UND_ERR_PRX_TLS' ||
        // node:https reports a handshake with a non-TLS server as a socket write EPROTO.
        c === 'EPROTO' ||
        c.startsWith('ERR_SSL_') ||
        c.startsWith('ERR_TLS_'),
    );
    if (tlsCode !== undefined) {
      let why: string;
      if (TLS_TRUST_CODES.has(tlsCode)) why = 'the server certificate is not trusted';
      else if (TLS_VALIDITY_CODES.has(tlsCode)) why = "the server certificate is expired or not yet valid (check this machine's clock)";
      else if (TLS_NAME_CODES.has(tlsCode)) why = `the server certificate does not name ${host}`;
      else why = 'the TLS handshake failed (is the endpoint really an https:// server?)';
      return new SidecarError(
        'TLS_FAILURE',
        `TLS connection to ${host}${via} failed: ${why} (${tlsCode}): if the endpoint or a TLS-inspecting proxy uses a private CA, add its root with ${ca}; check --endpoint`,
        { cause: e, details },
      );
    }
    const timeoutCode = codes.find((c) => TIMEOUT_CODES.has(c));
    if (timeoutCode !== undefined) {
      const phase =
        timeoutCode === 'UND_ERR_HEADERS_TIMEOUT' || timeoutCode === HEADERS_TIMEOUT
          ? 'waiting for the response'
          : timeoutCode === 'UND_ERR_BODY_TIMEOUT' || timeoutCode === BODY_TIMEOUT
            ? 'reading the response'
            : 'connecting';
      return new SidecarError(
        'TIMEOUT',
        `CreateSession to ${host}${via} timed out ${phase} (${timeoutCode}) ${after}: check network access to the endpoint${via !== '' ? ' and the proxy' : ''}`,
        { cause: e, details },
      );
    }
    const netCode = codes.find((c) => NETWORK_CODES.has(c) || c.startsWith('EAI_'));
    const proxyRefused = /^Proxy response \(\d+\)/.test(raw);
    // Other undici codes are transport trouble too, except the ones that mean a bug here.
    const otherUndici = codes.some((c) => c.startsWith('UND_ERR_') && c !== 'UND_ERR_INVALID_ARG' && c !== 'UND_ERR_NOT_SUPPORTED');
    if (netCode !== undefined || proxyRefused || otherUndici) {
      const shown = netCode ?? (proxyRefused ? raw : code);
      const fix =
        via !== ''
          ? 'check that the proxy is reachable and allows CONNECT to the endpoint, or exclude the host with NO_PROXY'
          : 'check DNS, firewalls and --endpoint/--region, and set HTTPS_PROXY if this network only reaches AWS through a proxy';
      return new SidecarError('ENDPOINT_UNREACHABLE', `cannot reach IAM Roles Anywhere at ${host}${via} (${shown}) ${after}: ${fix}`, {
        cause: e,
        details,
      });
    }
    return new SidecarError('INTERNAL', `CreateSession to ${host} failed unexpectedly (${code}: ${raw}): please report this`, {
      cause: e,
      details,
    });
  }
}

/** The final error, with the number of attempts made recorded in its details. */
function withAttempts(err: SidecarError, attempts: number, retryAfterMs?: number): SidecarError {
  if (err.details.attempts === attempts && retryAfterMs === undefined) return err;
  const copy = new SidecarError(err.code, err.message, {
    ...(err.cause !== undefined ? { cause: err.cause } : {}),
    retryable: err.retryable,
    details: { ...err.details, attempts, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
  });
  copy.stack = err.stack;
  return copy;
}
