/**
 * Turns parsed options into the pieces commands wire together: logger, identity loader,
 * CreateSession client. This file and the command files are the only places that know
 * how the layers fit.
 *
 * Only option handling is imported statically: the identity parsers and the HTTP client
 * (node:https; undici only behind a proxy) are imported when an identity is loaded or a
 * client built, so a command that answers without them (`credential-process` on a cache hit) never loads them.
 */
import { SidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Logger, LogLevel } from '../core/logger.js';
import type { Options } from '../config/parse.js';
import { MAX_CA_BUNDLE_BYTES } from '../identity/ca-bundle.js';
import type { HardwareOptions, IdentityConfig, InputSource, KeyConfig, KeyStoreRef, Pkcs11Ref } from '../identity/index.js';
import { isPkcs11Uri, parsePkcs11Uri } from '../identity/pkcs11/uri.js';
import { parseTpmHandle } from '../identity/tpm/key-ref.js';
import { readFileBounded } from '../io/files.js';
import { resolveEndpoint, type ResolvedEndpoint } from '../session/endpoint.js';
import type { AttemptEvent, CreateSessionClient } from '../session/index.js';
import type { RetryPolicy } from '../session/retry.js';
import type { DispatcherOptions } from '../session/http.js';
import type { CreateSessionParams } from '../signing/create-session.js';
import { createLogger, isLogLevel } from '../telemetry/logger.js';
import type { CliIo } from './io.js';
import { VERSION } from './version.js';

/** `defaultLevel` applies when neither --log-level (or its variable) nor --debug is given. */
export function loggerFrom(opts: Options, io: CliIo, fields: Record<string, unknown> = {}, defaultLevel: LogLevel = 'info'): Logger {
  const level = opts.bool('debug') ? 'debug' : (opts.str('log-level') ?? defaultLevel);
  if (!isLogLevel(level)) {
    throw new SidecarError('CONFIG_INVALID', `${opts.origin('log-level')} must be debug, info, warn or error, got "${level}"`);
  }
  const format = opts.str('log-format') ?? 'json';
  if (format !== 'json' && format !== 'text') {
    throw new SidecarError('CONFIG_INVALID', `${opts.origin('log-format')} must be json or text, got "${format}"`);
  }
  return createLogger({ stream: io.stderr, level, format, clock: io.clock, fields: { app: 'rolesanywhere-sidecar', ...fields } });
}

function inputFrom(opts: Options, pathFlag: string, envFlag: string): InputSource | undefined {
  const path = opts.str(pathFlag);
  const envVar = opts.str(envFlag);
  if (path !== undefined && envVar !== undefined) {
    throw new SidecarError('CONFIG_INVALID', `only one of --${pathFlag} and --${envFlag} can be given`);
  }
  if (envVar !== undefined) return { kind: 'env', name: envVar };
  if (path === undefined || path === '') return undefined;
  if (path === '-') return { kind: 'stdin' };
  return { kind: 'file', path };
}

/** A file/env/stdin input, or a `pkcs11:` URI (and, for keys, a TPM `handle:0x81...`). */
function storeInputFrom(opts: Options, pathFlag: string, envFlag: string, allowTpm: boolean): InputSource | KeyStoreRef | undefined {
  const value = opts.str(pathFlag);
  if (value !== undefined && isPkcs11Uri(value)) {
    if (opts.str(envFlag) !== undefined) throw new SidecarError('CONFIG_INVALID', `only one of --${pathFlag} and --${envFlag} can be given`);
    return { kind: 'pkcs11', uri: parsePkcs11Uri(value, opts.origin(pathFlag)) };
  }
  if (value !== undefined && value.startsWith('handle:')) {
    const handle = allowTpm ? parseTpmHandle(value) : undefined;
    if (handle === undefined) {
      throw new SidecarError(
        'CONFIG_INVALID',
        `${opts.origin(pathFlag)}: "${value.slice(0, 24)}" is a TPM key handle, which only --private-key takes (as handle:0x81000001)`,
      );
    }
    return { kind: 'tpm', key: value, label: `TPM ${value}` };
  }
  return inputFrom(opts, pathFlag, envFlag);
}

/** Token and TPM settings; the prompt only when a person is at a terminal. */
function hardwareFrom(opts: Options, io?: Pick<CliIo, 'stdin' | 'stderr'>): HardwareOptions {
  const lib = opts.str('pkcs11-lib');
  const pin = opts.str('pkcs11-pin');
  const tpmPw = opts.str('tpm-key-password');
  if (tpmPw !== undefined && opts.bool('no-tpm-key-password')) {
    throw new SidecarError('CONFIG_INVALID', 'only one of --tpm-key-password and --no-tpm-key-password can be given');
  }
  const prompt = io !== undefined && (io.stdin as { isTTY?: boolean }).isTTY === true ? (q: string) => promptHidden(io, q) : undefined;
  return {
    cache: {},
    ...(lib !== undefined ? { pkcs11Lib: lib } : {}),
    ...(pin !== undefined ? { pin } : {}),
    ...(opts.bool('reuse-pin') ? { reusePin: true } : {}),
    ...(tpmPw !== undefined ? { tpmKeyPassword: tpmPw } : {}),
    ...(opts.bool('no-tpm-key-password') ? { noTpmKeyPassword: true } : {}),
    ...(prompt !== undefined ? { prompt } : {}),
  };
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(io: Pick<CliIo, 'stdin' | 'stderr'>, question: string): Promise<string | undefined> {
  const stdin = io.stdin as NodeJS.ReadStream;
  return new Promise((resolve) => {
    io.stderr.write(question);
    let answer = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode?.(true);
    stdin.resume();
    const done = (value: string | undefined): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      io.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(answer);
        if (ch === '\u0003' || ch === '\u0004') return done(undefined);
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else if (answer.length < 256) answer += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function passwordFrom(opts: Options): Pick<IdentityConfig, 'password'> {
  const pw = opts.str('pkcs8-password');
  const pwFile = opts.str('pkcs8-password-file');
  if (pw !== undefined && pwFile !== undefined) {
    throw new SidecarError('CONFIG_INVALID', 'only one of --pkcs8-password and --pkcs8-password-file can be given');
  }
  if (pw !== undefined) return { password: { kind: 'value', value: pw } };
  if (pwFile !== undefined) return { password: { kind: 'file', path: pwFile } };
  return {};
}

const MISSING_CERTIFICATE = 'missing --certificate (or --certificate-env, ROLESANYWHERE_CERTIFICATE): pass the workload certificate (PEM, DER or PKCS#12)';

/** Certificate, key, chain and password inputs for the commands that load a whole identity. */
export function identityConfigFrom(opts: Options, needKey = true, io?: Pick<CliIo, 'stdin' | 'stderr'>): IdentityConfig {
  const certificate = storeInputFrom(opts, 'certificate', 'certificate-env', false) as InputSource | Pkcs11Ref | undefined;
  if (certificate === undefined) throw new SidecarError('CONFIG_INVALID', MISSING_CERTIFICATE);
  const privateKey = needKey ? storeInputFrom(opts, 'private-key', 'private-key-env', true) : undefined;
  const intermediates = inputFrom(opts, 'intermediates', 'intermediates-env');
  if (certificate.kind === 'stdin' && privateKey?.kind === 'stdin') {
    throw new SidecarError(
      'CONFIG_INVALID',
      'only one of --certificate and --private-key can read standard input ("-"): put both in one PEM on stdin and leave --private-key out',
    );
  }
  return {
    certificate,
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(intermediates !== undefined ? { intermediates } : {}),
    ...passwordFrom(opts),
    hardware: hardwareFrom(opts, io),
  };
}

/** A key on its own (sign-string): --private-key, or a certificate input that carries the key. */
export function keyConfigFrom(opts: Options, io?: Pick<CliIo, 'stdin' | 'stderr'>): KeyConfig {
  const privateKey = storeInputFrom(opts, 'private-key', 'private-key-env', true);
  const certificate = storeInputFrom(opts, 'certificate', 'certificate-env', false) as InputSource | Pkcs11Ref | undefined;
  if (privateKey === undefined && certificate === undefined) {
    throw new SidecarError('CONFIG_INVALID', 'missing --private-key (or a --certificate that holds the key: PKCS#12 or a combined PEM)');
  }
  return {
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(certificate !== undefined ? { certificate } : {}),
    ...passwordFrom(opts),
    hardware: hardwareFrom(opts, io),
  };
}

export function identityLoader(cfg: IdentityConfig, io: Pick<CliIo, 'clock' | 'env' | 'stdin'>, logger: Logger): () => Promise<Identity> {
  return async () => {
    const { loadIdentity } = await import('../identity/load.js');
    return loadIdentity(cfg, { clock: io.clock, logger, env: io.env, stdin: io.stdin });
  };
}

export interface SessionSetup {
  readonly client: CreateSessionClient;
  readonly params: CreateSessionParams;
  readonly endpointUrl: URL;
  readonly region: string;
  /** CA bundle, proxy and TLS settings, so STS (role chaining) is reached the same way. */
  readonly dispatcherOptions: DispatcherOptions;
  readonly userAgent: string;
}

export function sessionParamsFrom(opts: Options): CreateSessionParams {
  const durationSeconds = opts.ranged('session-duration', 900, 43200) ?? 3600;
  const name = opts.str('role-session-name');
  return {
    trustAnchorArn: opts.required('trust-anchor-arn'),
    profileArn: opts.required('profile-arn'),
    roleArn: opts.required('role-arn'),
    durationSeconds,
    ...(name !== undefined ? { roleSessionName: name } : {}),
  };
}

/** The Roles Anywhere endpoint from --endpoint, --region, the trust anchor's region and the FIPS/dual-stack variables. */
export function endpointFrom(opts: Options, params: CreateSessionParams): ResolvedEndpoint {
  const endpointFlag = opts.str('endpoint');
  const regionFlag = opts.str('region');
  return resolveEndpoint({
    trustAnchorArn: params.trustAnchorArn,
    profileArn: params.profileArn,
    ...(endpointFlag !== undefined ? { endpoint: endpointFlag } : {}),
    ...(regionFlag !== undefined ? { region: regionFlag } : {}),
    useFips: opts.bool('use-fips-endpoint') || opts.environment.useFipsEndpoint,
    useDualStack: opts.environment.useDualStackEndpoint,
  });
}

export interface SessionHooks {
  readonly onAttempt?: (e: AttemptEvent) => void;
  readonly onClockSkew?: (offsetMs: number) => void;
  /** The client's retry policy (default DEFAULT_RETRY_POLICY, for callers an SDK is waiting on). */
  readonly retry?: RetryPolicy;
}

/** Builds the CreateSession client; `identity` is a getter so a rotated identity is picked up. */
export async function sessionFrom(opts: Options, io: CliIo, logger: Logger, identity: () => Identity, hooks: SessionHooks = {}): Promise<SessionSetup> {
  const { onAttempt, onClockSkew, retry } = hooks;
  const params = sessionParamsFrom(opts);
  const endpoint = endpointFrom(opts, params);
  const { CreateSessionClient, createDispatcher, describeProxyUrl, userAgentFor } = await import('../session/index.js');
  const caPath = opts.str('ca-bundle') ?? opts.environment.caBundle;
  const caOrigin = opts.has('ca-bundle') ? opts.origin('ca-bundle') : 'AWS_CA_BUNDLE';
  let caBundlePem: Buffer | undefined;
  if (caPath !== undefined) {
    caBundlePem = await readFileBounded(caPath, {
      maxBytes: MAX_CA_BUNDLE_BYTES,
      tooLarge: () =>
        new SidecarError(
          'INPUT_TOO_LARGE',
          `the CA bundle ${caPath} given by ${caOrigin} is larger than ${MAX_CA_BUNDLE_BYTES} bytes: give a PEM file holding only the CA certificates you need`,
        ),
      unreadable: (code, cause) =>
        new SidecarError('FILE_UNREADABLE', `cannot read the CA bundle ${caPath} given by ${caOrigin} (${code}): fix the path or unset it`, { cause }),
    });
  }
  const { httpsProxy, httpProxy, noProxy } = opts.environment.proxy;
  const proxy = {
    ...(httpsProxy ? { httpsProxy } : {}),
    ...(httpProxy ? { httpProxy } : {}),
    ...(noProxy ? { noProxy } : {}),
  };
  const dispatcherOptions: DispatcherOptions = {
    ...(caBundlePem !== undefined ? { caBundlePem } : {}),
    noVerifySsl: opts.bool('no-verify-ssl'),
    proxy,
  };
  const dispatcher = createDispatcher(dispatcherOptions);
  const usedProxy = endpoint.url.protocol === 'https:' ? (httpsProxy ?? httpProxy) : httpProxy;
  if (opts.bool('no-verify-ssl')) logger.warn('TLS verification of the Roles Anywhere endpoint is off (--no-verify-ssl): use only for testing');
  const client = new CreateSessionClient({
    endpoint,
    params,
    identity,
    dispatcher,
    clock: io.clock,
    random: io.random,
    logger,
    userAgent: userAgentFor(VERSION),
    caDescription: caPath !== undefined ? `${caOrigin} ${caPath}` : 'the system roots (set --ca-bundle or AWS_CA_BUNDLE to add a CA)',
    ...(usedProxy ? { proxyDescription: describeProxyUrl(usedProxy) } : {}),
    ...(onAttempt ? { onAttempt } : {}),
    ...(onClockSkew ? { onClockSkew } : {}),
    ...(retry ? { retry } : {}),
  });
  return { client, params, endpointUrl: endpoint.url, region: endpoint.region, dispatcherOptions, userAgent: userAgentFor(VERSION) };
}
