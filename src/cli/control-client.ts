/**
 * The Roles Anywhere control-plane client for `setup` and `doctor`: AWS's own
 * `@aws-sdk/client-rolesanywhere`, imported on demand (it brings its own, older SDK core,
 * which `serve` and `credential-process` never load), with the caller's credentials from
 * the SDK's default provider chain. Its errors become SidecarErrors with stable codes.
 */
import { SidecarError, oneLine, type ErrorCode } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import type { CliIo } from './io.js';

export type RolesAnywhereModule = typeof import('@aws-sdk/client-rolesanywhere');
export type RolesAnywhereClient = InstanceType<RolesAnywhereModule['RolesAnywhereClient']>;

export interface ControlClient {
  readonly sdk: RolesAnywhereModule;
  readonly client: RolesAnywhereClient;
  readonly region: string;
  close(): void;
}

export async function controlClientFrom(opts: Options, region: string): Promise<ControlClient> {
  const sdk = await import('@aws-sdk/client-rolesanywhere');
  const endpoint = opts.str('endpoint');
  const client = new sdk.RolesAnywhereClient({
    region,
    ...(endpoint !== undefined ? { endpoint: endpoint.replace(/\/+$/, '') } : {}),
    maxAttempts: 3,
  });
  return { sdk, client, region, close: () => client.destroy() };
}

const BY_TYPE: Record<string, ErrorCode> = {
  AccessDeniedException: 'SERVICE_ACCESS_DENIED',
  SignatureDoesNotMatch: 'SERVICE_ACCESS_DENIED',
  UnrecognizedClientException: 'SERVICE_ACCESS_DENIED',
  MissingAuthenticationTokenException: 'SERVICE_ACCESS_DENIED',
  InvalidSignatureException: 'SERVICE_ACCESS_DENIED',
  ExpiredTokenException: 'SERVICE_ACCESS_DENIED',
  ValidationException: 'SERVICE_VALIDATION',
  TooManyTagsException: 'SERVICE_VALIDATION',
  ResourceNotFoundException: 'SERVICE_NOT_FOUND',
  ThrottlingException: 'SERVICE_THROTTLED',
};

/** One line naming the failed call, the service's error type and message. */
export function controlError(e: unknown, call: string): SidecarError {
  if (e instanceof SidecarError) return e;
  const err = e as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? 'Error';
  const msg = oneLine(err.message ?? String(e), 300);
  if (name === 'CredentialsProviderError') {
    return new SidecarError(
      'CONFIG_INVALID',
      `${call}: no AWS credentials for the control plane (${msg}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE`,
      { cause: e },
    );
  }
  const code = BY_TYPE[name];
  if (code !== undefined) return new SidecarError(code, `${call} was refused: ${name}: ${msg}`, { cause: e });
  if (err.$metadata?.httpStatusCode === undefined && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|socket/i.test(`${err.code ?? ''} ${msg}`)) {
    return new SidecarError('ENDPOINT_UNREACHABLE', `${call}: the control plane cannot be reached (${msg}): check --endpoint or --region`, { cause: e });
  }
  return new SidecarError('SERVICE_ERROR', `${call} failed: ${name}: ${msg}`, { cause: e });
}

/** Region for the control plane: --region, else the SDK's AWS_REGION / AWS_DEFAULT_REGION. */
export function controlRegionFrom(opts: Options, io: CliIo, fallback?: string): string {
  const region = opts.str('region') ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? fallback;
  if (region === undefined || region === '') {
    throw new SidecarError('CONFIG_INVALID', 'no region for the Roles Anywhere control plane: pass --region (or set AWS_REGION)');
  }
  if (!/^[a-z]{2,8}(-[a-z0-9]+)+-\d{1,3}$/.test(region))
    throw new SidecarError('CONFIG_INVALID', `"${oneLine(region, 40)}" is not an AWS region name: pass e.g. --region us-east-1`);
  return region;
}
