/**
 * AssumeRole through `@aws-sdk/client-sts`, imported only when role chaining is configured
 * (start-up without chaining never loads it). Requests go through the sidecar's undici
 * dispatcher (CA bundle, proxy); STS errors become typed SidecarErrors with one-line
 * messages that say what to fix.
 */
import type { SessionDispatcher } from '../session/http.js';
import type { Credentials } from '../core/credentials.js';
import { SidecarError, oneLine, type ErrorCode } from '../core/errors.js';
import type { StsEndpoint } from './endpoint.js';
import { UndiciHttpHandler } from './http-handler.js';
import type { AssumeRoleOptions } from './options.js';
import type { AssumeRoleCall, ChainedResult } from './source.js';

export interface StsCallOptions {
  readonly endpoint: StsEndpoint;
  readonly dispatcher: SessionDispatcher;
  readonly userAgent?: string;
  /** The SDK's own retries of throttling, 5xx and network errors for one call (standard mode). */
  readonly maxAttempts?: number;
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

const INVALID = new Set([
  'ValidationError',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
  'InvalidParameterValue',
]);
const BASE_REJECTED = new Set(['ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId']);

/** Maps an error from the SDK's AssumeRole to the catalogue. */
export function assumeRoleError(e: unknown, options: AssumeRoleOptions, endpoint: StsEndpoint): SidecarError {
  const err = (e ?? {}) as SdkError;
  const name = err.name ?? 'Error';
  const status = err.$metadata?.httpStatusCode;
  const said = oneLine(err.message ?? String(e), 300);
  const role = options.roleArn;
  const details = { stsCode: name, ...(status !== undefined ? { status } : {}), roleArn: role, endpoint: endpoint.url.host };
  const make = (code: ErrorCode, message: string, extra: Record<string, boolean> = {}) =>
    new SidecarError(code, oneLine(message), { cause: e, details: { ...details, ...extra } });
  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return make(
      'ASSUME_ROLE_DENIED',
      `STS refused AssumeRole of ${role} (AccessDenied: ${said}): check that the role's trust policy trusts the Roles Anywhere role, that --external-id matches its sts:ExternalId condition, and --source-identity`,
    );
  }
  if (name === 'RegionDisabledException') {
    return make(
      'ASSUME_ROLE_REGION_DISABLED',
      `STS is not activated in ${endpoint.region} for the account (${said}): activate it in IAM account settings or point --sts-endpoint at another region`,
    );
  }
  if (INVALID.has(name)) {
    const fix = /DurationSeconds/.test(said)
      ? "lower --assume-role-duration (role chaining allows at most 3600 seconds, and no more than the role's maximum session duration)"
      : /olicy/.test(name) || /olicy/.test(said)
        ? 'fix --session-policy-file / --policy-arns'
        : 'fix the chaining options';
    return make('ASSUME_ROLE_INVALID', `STS refused AssumeRole of ${role} (${name.replace(/Exception$/, '')}: ${said}): ${fix}`);
  }
  if (BASE_REJECTED.has(name)) {
    return make('ASSUME_ROLE_UNAVAILABLE', `STS did not accept the Roles Anywhere session for AssumeRole of ${role} (${name}: ${said})`, {
      baseRejected: true,
    });
  }
  if ((status !== undefined && (status >= 500 || status === 429)) || err.$fault === 'server' || /Throttl/.test(name)) {
    return make(
      'ASSUME_ROLE_UNAVAILABLE',
      `STS at ${endpoint.url.host} is unavailable for AssumeRole of ${role} (${name}${status !== undefined ? ` ${status}` : ''}: ${said}); retrying, keeping the last chained credentials`,
    );
  }
  if (status === undefined) {
    return make(
      'ASSUME_ROLE_UNAVAILABLE',
      `cannot reach STS at ${endpoint.url.host} (chosen by ${endpoint.source}) for AssumeRole of ${role} (${said}): check the network, the proxy settings and --sts-endpoint`,
    );
  }
  return make('ASSUME_ROLE_FAILED', `STS AssumeRole of ${role} failed (${name} ${status}: ${said})`);
}

function accountOf(roleArn: string): string | undefined {
  return /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1];
}

/*
 * The SDK's client constructor warns once per process on Node < 22
 * (emitWarningIfUnsupportedVersion in @aws-sdk/core dist-cjs/submodules/client), on stderr,
 * which credential_process callers show to users as part of every error. The SDK's own
 * switch is an environment variable it reads at that moment; it is set around the
 * construction only, so nothing else in this process or its children sees it.
 */
const SDK_NODE_WARNING = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

function quietly<T>(make: () => T): T {
  const before = process.env[SDK_NODE_WARNING];
  process.env[SDK_NODE_WARNING] = 'true';
  try {
    return make();
  } finally {
    if (before === undefined) delete process.env[SDK_NODE_WARNING];
    else process.env[SDK_NODE_WARNING] = before;
  }
}

/** An AssumeRoleCall backed by the SDK's STSClient (imported on first use). */
export function stsAssumeRoleCall(opts: StsCallOptions): AssumeRoleCall {
  const handler = new UndiciHttpHandler(opts.dispatcher);
  return async (base: Credentials, options: AssumeRoleOptions, signal?: AbortSignal): Promise<ChainedResult> => {
    const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
    const client = quietly(
      () =>
        new STSClient({
          region: opts.endpoint.region,
          endpoint: opts.endpoint.url.href,
          credentials: { accessKeyId: base.accessKeyId, secretAccessKey: base.secretAccessKey, sessionToken: base.sessionToken },
          requestHandler: handler,
          maxAttempts: opts.maxAttempts ?? 3,
          ...(opts.userAgent !== undefined ? { customUserAgent: opts.userAgent } : {}),
        }),
    );
    try {
      const out = await client.send(
        new AssumeRoleCommand({
          RoleArn: options.roleArn,
          RoleSessionName: options.sessionName,
          DurationSeconds: options.durationSeconds,
          ...(options.externalId !== undefined ? { ExternalId: options.externalId } : {}),
          ...(options.policy !== undefined ? { Policy: options.policy } : {}),
          ...(options.policyArns.length > 0 ? { PolicyArns: options.policyArns.map((arn) => ({ arn })) } : {}),
          ...(options.sourceIdentity !== undefined ? { SourceIdentity: options.sourceIdentity } : {}),
          ...(options.tags.length > 0 ? { Tags: options.tags.map((t) => ({ Key: t.key, Value: t.value })) } : {}),
          ...(options.transitiveTagKeys.length > 0 ? { TransitiveTagKeys: [...options.transitiveTagKeys] } : {}),
        }),
        signal !== undefined ? { abortSignal: signal } : {},
      );
      const c = out.Credentials;
      if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined || !(c.Expiration instanceof Date)) {
        throw new SidecarError('RESPONSE_MALFORMED', `the AssumeRole answer from ${opts.endpoint.url.host} has no complete credentials: check --sts-endpoint`);
      }
      const accountId = accountOf(options.roleArn);
      return {
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
          expiration: c.Expiration.getTime(),
          roleArn: options.roleArn,
          ...(accountId !== undefined ? { accountId } : {}),
        },
        ...(out.AssumedRoleUser?.Arn !== undefined ? { assumedRoleArn: out.AssumedRoleUser.Arn } : {}),
        ...(out.SourceIdentity !== undefined ? { sourceIdentity: out.SourceIdentity } : {}),
      };
    } catch (e) {
      if (e instanceof SidecarError) throw e;
      throw assumeRoleError(e, options, opts.endpoint);
    } finally {
      client.destroy();
    }
  };
}
