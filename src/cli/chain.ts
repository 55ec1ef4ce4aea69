/**
 * Role chaining wired from the options: when `--assume-role-arn` is given, the CreateSession
 * client is wrapped in an AssumeRoleSource whose STS calls go through a dispatcher with the
 * same CA and proxy settings. Without it nothing here loads `@aws-sdk/client-sts`.
 */
import { readFile } from 'node:fs/promises';
import type { CredentialSource, Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Logger } from '../core/logger.js';
import type { Options } from '../config/parse.js';
import { stsEnvironment } from '../config/sts-env.js';
import type { StsEndpoint } from '../chain/endpoint.js';
import type { AssumeRoleInput, AssumeRoleOptions } from '../chain/options.js';
import type { IssuanceInfo } from '../chain/source.js';
import { parseRoleArn } from '../session/arn.js';
import type { CliIo } from './io.js';
import type { SessionSetup } from './context.js';

/** Chaining settings before the identity is known (the default session name comes from it). */
export interface ChainInput {
  readonly input: AssumeRoleInput;
  readonly names: Readonly<Record<keyof AssumeRoleInput, string>>;
  readonly stsEndpointOverride?: string;
}

export interface Chain {
  readonly source: CredentialSource;
  readonly options: AssumeRoleOptions;
  readonly endpoint: StsEndpoint;
  close(): Promise<void>;
}

/** Files and limits: a session policy is at most 2,048 characters; 64 KiB is generous for pretty-printed JSON. */
const MAX_POLICY_FILE_BYTES = 64 * 1024;

export async function readPolicyFile(path: string, origin: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new SidecarError(
      'FILE_UNREADABLE',
      `cannot read the session policy ${path} given by ${origin} (${(e as NodeJS.ErrnoException).code ?? 'error'}): fix the path`,
      { cause: e },
    );
  }
  if (buf.length > MAX_POLICY_FILE_BYTES)
    throw new SidecarError(
      'INPUT_TOO_LARGE',
      `the session policy ${path} is larger than ${MAX_POLICY_FILE_BYTES} bytes: session policies are at most 2048 characters`,
    );
  return buf.toString('utf8');
}

/** The chaining flags, or undefined when --assume-role-arn is not given. */
export async function chainInputFromFlags(opts: Options): Promise<ChainInput | undefined> {
  const roleArn = opts.str('assume-role-arn');
  const others = [
    'external-id',
    'assume-role-session-name',
    'assume-role-duration',
    'session-policy-file',
    'policy-arns',
    'source-identity',
    'tags',
    'transitive-tag-keys',
    'sts-endpoint',
  ];
  if (roleArn === undefined || roleArn === '') {
    const stray = others.find((f) => opts.has(f));
    if (stray !== undefined) throw new SidecarError('CONFIG_INVALID', `${opts.origin(stray)} applies to role chaining: add --assume-role-arn, or remove it`);
    return undefined;
  }
  const { parseList, parseTags } = await import('../chain/options.js');
  const policyPath = opts.str('session-policy-file');
  const policy = policyPath !== undefined ? await readPolicyFile(policyPath, opts.origin('session-policy-file')) : undefined;
  const str = (f: string) => opts.str(f);
  const input: AssumeRoleInput = {
    roleArn,
    ...(str('assume-role-session-name') !== undefined ? { sessionName: str('assume-role-session-name')! } : {}),
    ...(opts.num('assume-role-duration') !== undefined ? { durationSeconds: opts.num('assume-role-duration')! } : {}),
    ...(str('external-id') !== undefined ? { externalId: str('external-id')! } : {}),
    ...(policy !== undefined ? { policy } : {}),
    policyArns: parseList(str('policy-arns')),
    ...(str('source-identity') !== undefined ? { sourceIdentity: str('source-identity')! } : {}),
    tags: parseTags(str('tags') ?? '', opts.origin('tags')),
    transitiveTagKeys: parseList(str('transitive-tag-keys')),
  };
  const names = {
    roleArn: opts.origin('assume-role-arn'),
    sessionName: opts.origin('assume-role-session-name'),
    durationSeconds: opts.origin('assume-role-duration'),
    externalId: opts.origin('external-id'),
    policy: opts.origin('session-policy-file'),
    policyArns: opts.origin('policy-arns'),
    sourceIdentity: opts.origin('source-identity'),
    tags: opts.origin('tags'),
    transitiveTagKeys: opts.origin('transitive-tag-keys'),
  };
  const override = str('sts-endpoint');
  return { input, names, ...(override !== undefined ? { stsEndpointOverride: override } : {}) };
}

/** The certificate's CN, as a default session name's source. */
function commonName(identity: Identity): string | undefined {
  return identity.certificate.subject
    .split('\n')
    .find((l) => l.startsWith('CN='))
    ?.slice(3);
}

export interface ChainHooks {
  onIssued?(c: Credentials, info: IssuanceInfo & { readonly roleArn: string }): void;
}

/** Wraps the CreateSession client in role chaining. */
export async function buildChain(
  chain: ChainInput,
  session: SessionSetup,
  identity: Identity,
  io: Pick<CliIo, 'env' | 'clock'>,
  logger: Logger,
  hooks: ChainHooks = {},
): Promise<Chain> {
  const { defaultSessionName, validateAssumeRole } = await import('../chain/options.js');
  const { resolveStsEndpoint } = await import('../chain/endpoint.js');
  const { AssumeRoleSource } = await import('../chain/source.js');
  const { stsAssumeRoleCall } = await import('../chain/sts-client.js');
  const { createDispatcher } = await import('../session/http.js');
  const options = validateAssumeRole(chain.input, defaultSessionName(commonName(identity), identity.certificate.serialNumber), chain.names);
  const env = stsEnvironment(io.env);
  const endpoint = resolveStsEndpoint({
    region: session.region,
    partition: parseRoleArn(session.params.roleArn).partition,
    ...(chain.stsEndpointOverride !== undefined ? { override: chain.stsEndpointOverride } : {}),
    ...(env.endpointUrlSts !== undefined ? { endpointUrlSts: env.endpointUrlSts } : {}),
    ...(env.endpointUrl !== undefined ? { endpointUrl: env.endpointUrl } : {}),
    useFips: env.useFips,
    useDualStack: env.useDualStack,
  });
  const dispatcher = createDispatcher(session.dispatcherOptions);
  const source = new AssumeRoleSource({
    base: session.client,
    options,
    assume: stsAssumeRoleCall({ endpoint, dispatcher, userAgent: session.userAgent }),
    clock: io.clock,
    onIssued: (c, info) => hooks.onIssued?.(c, { ...info, roleArn: options.roleArn }),
  });
  logger.info('role chaining configured', {
    assumeRoleArn: options.roleArn,
    sessionName: options.sessionName,
    durationSeconds: options.durationSeconds,
    externalId: options.externalId !== undefined,
    sessionPolicy: options.policy !== undefined,
    policyArns: options.policyArns.length,
    tags: options.tags.length,
    stsEndpoint: endpoint.url.origin,
    stsEndpointSource: endpoint.source,
  });
  return { source, options, endpoint, close: () => dispatcher.close() };
}
