/**
 * `fromRolesAnywhere()`: an AWS SDK for JavaScript v3 credential provider that signs
 * CreateSession in-process, for Node workloads that want Roles Anywhere credentials without
 * a sidecar (the JS SDK has none of its own: aws-sdk-js-v3 issue #7112). It is the
 * library's counterpart of src/cli: it wires the same identity loader, signer and
 * CreateSession client the commands use, from options named like the CLI flags. It reads
 * no environment variable; pass proxies and CA bundles explicitly.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { nullLogger, type Logger } from '../core/logger.js';
import { VERSION } from '../config/version.js';
import { readInput, type InputData } from '../identity/input.js';
import { MAX_INPUT_BYTES, MAX_PASSWORD_BYTES } from '../identity/limits.js';
import { resolveEndpoint } from '../session/endpoint.js';
import type { ProxySettings } from '../session/http.js';
import type { CreateSessionClient } from '../session/client.js';
import type { CreateSessionParams } from '../signing/create-session.js';
import { DEFAULT_REFRESH_BEFORE_MS, memoizeCredentials, SDK_EXPIRY_WINDOW_MS } from './memoize.js';

/** A file path, or the content itself: PEM text (a string with `-----BEGIN`), or bytes (PEM, DER, PKCS#12). */
export type PathOrContent = string | Uint8Array;

export interface FromRolesAnywhereOptions {
  /** `--certificate`: PEM (leaf first, then chain), DER or PKCS#12; a path or the content. */
  readonly certificate: PathOrContent;
  /** `--private-key`: PKCS#8 (also encrypted), PKCS#1 or SEC1. Leave out for PKCS#12 or a combined PEM. */
  readonly privateKey?: PathOrContent;
  /** `--intermediates`: PEM bundle, sent in issuing order. */
  readonly intermediates?: PathOrContent;
  /** `--pkcs8-password`: password of an encrypted key or PKCS#12 bundle. */
  readonly password?: string;
  /** `--trust-anchor-arn`. */
  readonly trustAnchorArn: string;
  /** `--profile-arn`. */
  readonly profileArn: string;
  /** `--role-arn`. */
  readonly roleArn: string;
  /** `--region`; default: the trust anchor's region. */
  readonly region?: string;
  /** `--endpoint`: overrides the Roles Anywhere endpoint, e.g. `https://rolesanywhere.eu-west-1.amazonaws.com`. */
  readonly endpoint?: string;
  /** `AWS_USE_FIPS_ENDPOINT`. */
  readonly useFipsEndpoint?: boolean;
  /** `AWS_USE_DUALSTACK_ENDPOINT`. */
  readonly useDualstackEndpoint?: boolean;
  /** `--session-duration`: 900 to 43200 seconds; default 3600. */
  readonly durationSeconds?: number;
  /** `--role-session-name`. */
  readonly sessionName?: string;
  /** `--ca-bundle`: extra trusted roots for the endpoint, a path or PEM text. */
  readonly caBundle?: PathOrContent;
  /** `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`: one proxy URL for every endpoint, or the three settings. */
  readonly proxy?: string | ProxySettings;
  /** `--no-verify-ssl`: accept any server certificate. Testing only. */
  readonly noVerifySsl?: boolean;
  /** Fetch new credentials when less than this is left; default 600 s, at least the SDK's own 300 s. */
  readonly refreshBeforeSeconds?: number;
  /** Structured logger (the project's Logger shape); default: silent. Never receives secrets. */
  readonly logger?: Logger;
  /** Injected for tests. */
  readonly clock?: Clock;
  readonly random?: Random;
}

/** The provider, plus `close()` to release its HTTP connections early (they also time out by themselves). */
export type RolesAnywhereCredentialProvider = AwsCredentialIdentityProvider & { close(): Promise<void> };

function contentOf(value: PathOrContent, label: string, maxBytes: number): InputData | undefined {
  if (typeof value !== 'string' || value.includes('-----BEGIN ')) {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    if (data.length > maxBytes)
      throw new SidecarError('INPUT_TOO_LARGE', `${label} is larger than ${maxBytes} bytes, far more than a certificate, chain or key`);
    if (data.length === 0) throw new SidecarError('CONFIG_INVALID', `${label} is empty`);
    return { label, data };
  }
  return undefined;
}

async function readOption(value: PathOrContent, option: string, maxBytes = MAX_INPUT_BYTES): Promise<InputData> {
  const label = `options.${option}`;
  const inline = contentOf(value, label, maxBytes);
  if (inline !== undefined) return inline;
  if (value === '') throw new SidecarError('CONFIG_INVALID', `${label} is empty: give a file path or the PEM content`);
  return readInput({ kind: 'file', path: value as string }, { maxBytes, env: {}, flag: label });
}

function requiredString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw new SidecarError('CONFIG_INVALID', `options.${option} is required`);
  return value;
}

function sessionParams(o: FromRolesAnywhereOptions): CreateSessionParams {
  const durationSeconds = o.durationSeconds ?? 3600;
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200) {
    throw new SidecarError('CONFIG_INVALID', `options.durationSeconds must be a whole number from 900 to 43200, got ${String(durationSeconds)}`);
  }
  return {
    trustAnchorArn: requiredString(o.trustAnchorArn, 'trustAnchorArn'),
    profileArn: requiredString(o.profileArn, 'profileArn'),
    roleArn: requiredString(o.roleArn, 'roleArn'),
    durationSeconds,
    ...(o.sessionName !== undefined ? { roleSessionName: o.sessionName } : {}),
  };
}

function proxySettings(p: FromRolesAnywhereOptions['proxy']): ProxySettings {
  if (p === undefined) return {};
  if (typeof p === 'string') return p === '' ? {} : { httpsProxy: p, httpProxy: p };
  return p;
}

function toSdk(c: Credentials): AwsCredentialIdentity {
  return {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
    expiration: new Date(c.expiration),
    ...(c.accountId !== undefined ? { accountId: c.accountId } : {}),
  };
}

/**
 * Returns a credential provider for an SDK client's `credentials` option. Options are
 * checked at once (a missing ARN throws here); files are read, and the identity built,
 * at every CreateSession, so a rotated certificate is picked up at the next refresh.
 * Failures reject with a SidecarError whose `code` is one of the project's error codes.
 */
export function fromRolesAnywhere(options: FromRolesAnywhereOptions): RolesAnywhereCredentialProvider {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const logger = options.logger ?? nullLogger;
  if (options.certificate === undefined)
    throw new SidecarError('CONFIG_INVALID', 'options.certificate is required: a path, PEM text or the bytes of the workload certificate');
  const params = sessionParams(options);
  const endpoint = resolveEndpoint({
    trustAnchorArn: params.trustAnchorArn,
    profileArn: params.profileArn,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.region !== undefined ? { region: options.region } : {}),
    useFips: options.useFipsEndpoint === true,
    useDualStack: options.useDualstackEndpoint === true,
  });
  const refreshBeforeMs = Math.max(SDK_EXPIRY_WINDOW_MS, (options.refreshBeforeSeconds ?? DEFAULT_REFRESH_BEFORE_MS / 1000) * 1000);
  if (options.password !== undefined && Buffer.byteLength(options.password) > MAX_PASSWORD_BYTES) {
    throw new SidecarError('INPUT_TOO_LARGE', `options.password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }

  let client: Promise<CreateSessionClient> | undefined;
  let identity: Identity | undefined;
  // Built on first use: the parsers and the HTTP client are imported then, not when the provider is made.
  const clientOnce = (): Promise<CreateSessionClient> =>
    (client ??= (async () => {
      const [{ CreateSessionClient, userAgentFor }, { createDispatcher, describeProxyUrl }] = await Promise.all([
        import('../session/client.js'),
        import('../session/http.js'),
      ]);
      const proxy = proxySettings(options.proxy);
      const caBundle = options.caBundle !== undefined ? await readOption(options.caBundle, 'caBundle', 8 * 1024 * 1024) : undefined;
      const usedProxy = endpoint.url.protocol === 'https:' ? (proxy.httpsProxy ?? proxy.httpProxy) : proxy.httpProxy;
      return new CreateSessionClient({
        endpoint,
        params,
        identity: () => identity!,
        dispatcher: createDispatcher({ ...(caBundle !== undefined ? { caBundlePem: caBundle.data } : {}), noVerifySsl: options.noVerifySsl === true, proxy }),
        clock,
        random,
        logger,
        userAgent: `${userAgentFor(VERSION)} sdk-provider`,
        caDescription: caBundle !== undefined ? `${caBundle.label}` : 'the system roots (set options.caBundle to add a CA)',
        ...(usedProxy ? { proxyDescription: describeProxyUrl(usedProxy) } : {}),
      });
    })().catch((e: unknown) => {
      // An unreadable CA bundle may be fixed before the next call: do not keep the failure.
      client = undefined;
      throw e;
    }));

  const loadIdentity = async (): Promise<Identity> => {
    const [{ decodeIdentity }, cert, key, inter] = await Promise.all([
      import('../identity/load.js'),
      readOption(options.certificate, 'certificate'),
      options.privateKey !== undefined ? readOption(options.privateKey, 'privateKey') : undefined,
      options.intermediates !== undefined ? readOption(options.intermediates, 'intermediates') : undefined,
    ]);
    return decodeIdentity({
      certData: cert.data,
      certLabel: cert.label,
      ...(key !== undefined ? { keyData: key.data, keyLabel: key.label } : {}),
      ...(inter !== undefined ? { intermediatesData: inter.data, intermediatesLabel: inter.label } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      nowMs: clock.now(),
      logger,
    });
  };

  const memo = memoizeCredentials({
    clock,
    refreshBeforeMs,
    logger,
    fetch: async () => {
      identity = await loadIdentity();
      return (await clientOnce()).getCredentials();
    },
  });
  const provider = async (props?: Record<string, unknown>): Promise<AwsCredentialIdentity> => toSdk(await memo({ forceRefresh: props?.forceRefresh === true }));
  return Object.assign(provider, {
    close: async () => {
      if (client !== undefined) await (await client).close();
    },
  });
}
