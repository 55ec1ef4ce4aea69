/**
 * The command-line surface: every flag, the commands that take it, its environment
 * variable and its help line. Names and defaults follow AWS's aws_signing_helper so an
 * existing `credential_process = aws_signing_helper credential-process ...` line works after
 * changing one word. One table drives parsing, --help and the docs test.
 */

export type FlagType = 'string' | 'boolean' | 'number';

export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly help: string;
  readonly default?: string | number | boolean;
  /** Commands that accept it. */
  readonly commands: readonly CommandName[];
  /** Accepted for compatibility with the official helper, refused with NOT_SUPPORTED. */
  readonly notSupported?: boolean;
  /** Why a refused flag is refused and what to use instead (the refusal's message). */
  readonly refusal?: string;
  /**
   * Command line only: flags that lower security are never taken from the environment,
   * where nobody reviewing the command sees them; the variable being set is an error.
   */
  readonly noEnv?: boolean;
  /** May be given several times; the values are joined with commas (as is the variable's). */
  readonly repeatable?: boolean;
  /** Value placeholder for help, e.g. PATH. */
  readonly arg?: string;
}

export const COMMANDS = [
  'credential-process',
  'serve',
  'update',
  'exec',
  'sign-string',
  'read-certificate-data',
  'emulator',
  'demo',
  'setup',
  'doctor',
  'version',
] as const;
export type CommandName = (typeof COMMANDS)[number];

const SESSION: CommandName[] = ['credential-process', 'serve', 'update', 'exec', 'doctor'];
const IDENTITY: CommandName[] = [...SESSION, 'sign-string', 'read-certificate-data'];
const KEYED: CommandName[] = [...SESSION, 'sign-string'];
const LOGGING: CommandName[] = [...IDENTITY, 'emulator', 'demo', 'setup'];

/** Environment variable for a flag: ROLESANYWHERE_ + upper snake case. */
export function envName(flag: string): string {
  return `ROLESANYWHERE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export const FLAGS: readonly FlagSpec[] = [
  // identity
  {
    name: 'certificate',
    type: 'string',
    arg: 'PATH',
    commands: IDENTITY,
    help: 'Workload certificate: PEM (leaf first, then chain), DER or PKCS#12 (.p12/.pfx), or a pkcs11: URI of one on a token; "-" reads standard input',
  },
  {
    name: 'certificate-env',
    type: 'string',
    arg: 'NAME',
    commands: IDENTITY,
    help: 'Read the certificate (PEM, or base64 of PEM/DER/PKCS#12) from environment variable NAME, e.g. a CI variable',
  },
  {
    name: 'private-key',
    type: 'string',
    arg: 'PATH',
    commands: KEYED,
    help: 'Private key: PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1 PEM (not needed with PKCS#12 or a combined PEM), a pkcs11: URI, or a TPM key (TSS2 PEM file, handle:0x81...); "-" reads standard input',
  },
  { name: 'private-key-env', type: 'string', arg: 'NAME', commands: KEYED, help: 'Read the private key (PEM or base64) from environment variable NAME' },
  { name: 'intermediates', type: 'string', arg: 'PATH', commands: IDENTITY, help: 'PEM bundle of intermediate CA certificates, sent in issuing order' },
  {
    name: 'intermediates-env',
    type: 'string',
    arg: 'NAME',
    commands: IDENTITY,
    help: 'Read the intermediates bundle (PEM or base64) from environment variable NAME',
  },
  {
    name: 'pkcs8-password',
    type: 'string',
    arg: 'PASSWORD',
    commands: IDENTITY,
    help: 'Password of an encrypted key or PKCS#12 file (prefer the environment variable or --pkcs8-password-file)',
  },
  {
    name: 'pkcs8-password-file',
    type: 'string',
    arg: 'PATH',
    commands: IDENTITY,
    help: 'Read the key/PKCS#12 password from a file (one trailing newline is removed)',
  },
  // session
  { name: 'trust-anchor-arn', type: 'string', arg: 'ARN', commands: SESSION, help: 'Trust anchor ARN (its region is the default region)' },
  { name: 'profile-arn', type: 'string', arg: 'ARN', commands: SESSION, help: 'Profile ARN' },
  { name: 'role-arn', type: 'string', arg: 'ARN', commands: [...SESSION, 'setup'], help: 'Role ARN to assume (setup: a role the profile allows)' },
  {
    name: 'session-duration',
    type: 'number',
    arg: 'SECONDS',
    default: 3600,
    commands: SESSION,
    help: 'Credential lifetime requested from CreateSession, 900..43200 (the profile may cap it)',
  },
  { name: 'role-session-name', type: 'string', arg: 'NAME', commands: SESSION, help: 'Role session name (the profile must accept custom names)' },
  {
    name: 'region',
    type: 'string',
    arg: 'REGION',
    commands: [...SESSION, 'setup'],
    help: "Region of Roles Anywhere (default: the trust anchor ARN's region; setup: AWS_REGION)",
  },
  {
    name: 'endpoint',
    type: 'string',
    arg: 'URL',
    commands: [...SESSION, 'setup'],
    help: 'Roles Anywhere endpoint URL, overriding the one derived from region and partition (setup, doctor: also for the control plane)',
  },
  {
    name: 'use-fips-endpoint',
    type: 'boolean',
    commands: SESSION,
    help: 'Use the FIPS endpoint of Roles Anywhere (rolesanywhere-fips.<region>...), as AWS_USE_FIPS_ENDPOINT=true does',
  },
  // role chaining: STS AssumeRole with the Roles Anywhere credentials, serving the chained role's
  {
    name: 'assume-role-arn',
    type: 'string',
    arg: 'ARN',
    commands: SESSION,
    help: 'After CreateSession, assume this role with STS AssumeRole and serve its credentials instead (role chaining, e.g. a role in another account)',
  },
  {
    name: 'external-id',
    type: 'string',
    arg: 'ID',
    commands: SESSION,
    help: "External ID for AssumeRole (the sts:ExternalId a third party's trust policy requires)",
  },
  {
    name: 'assume-role-session-name',
    type: 'string',
    arg: 'NAME',
    commands: SESSION,
    help: "Session name of the chained role, [\\w+=,.@-]{2,64} (default: the certificate's CN)",
  },
  {
    name: 'assume-role-duration',
    type: 'number',
    arg: 'SECONDS',
    commands: SESSION,
    help: 'Lifetime of the chained credentials, 900..3600 (role chaining is capped at one hour; default 3600)',
  },
  {
    name: 'session-policy-file',
    type: 'string',
    arg: 'PATH',
    commands: SESSION,
    help: 'JSON IAM policy that scopes the chained session down (at most 2048 characters)',
  },
  {
    name: 'policy-arns',
    type: 'string',
    arg: 'ARN,...',
    repeatable: true,
    commands: SESSION,
    help: 'Managed policies that scope the chained session down (at most 10; repeatable or comma-separated)',
  },
  {
    name: 'source-identity',
    type: 'string',
    arg: 'NAME',
    commands: SESSION,
    help: "Source identity for the chained session (Roles Anywhere already sets it to the certificate's CN, which cannot then change)",
  },
  {
    name: 'tags',
    type: 'string',
    arg: 'K=V,...',
    repeatable: true,
    commands: SESSION,
    help: 'Session tags of the chained session (at most 50; repeatable or comma-separated)',
  },
  {
    name: 'transitive-tag-keys',
    type: 'string',
    arg: 'KEY,...',
    repeatable: true,
    commands: SESSION,
    help: 'Tag keys that stay on sessions chained further from this one',
  },
  {
    name: 'config',
    type: 'string',
    arg: 'PATH',
    commands: SESSION,
    help: 'YAML file naming several roles, each with its own profile/role ARNs, chaining options and duration, sharing one certificate or having its own (see README "Several roles")',
  },
  {
    name: 'audit-log',
    type: 'string',
    arg: 'PATH',
    commands: SESSION,
    help: 'Append one JSON line per credential issuance (role, session, source identity, expiry, access key id; never a secret) to this file, mode 0600',
  },
  {
    name: 'sts-endpoint',
    type: 'string',
    arg: 'URL',
    commands: SESSION,
    help: 'STS endpoint for AssumeRole (default: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else sts[-fips].<region>.<partition suffix>)',
  },
  { name: 'ca-bundle', type: 'string', arg: 'PATH', commands: SESSION, help: "Extra trusted root CAs (PEM) for the endpoint's TLS; AWS_CA_BUNDLE is read too" },
  {
    name: 'no-verify-ssl',
    type: 'boolean',
    noEnv: true,
    commands: SESSION,
    help: "Do not verify the endpoint's TLS certificate (testing only; command line only, never from the environment)",
  },
  {
    name: 'with-proxy',
    type: 'boolean',
    commands: SESSION,
    help: 'Accepted for compatibility: proxies are always taken from HTTPS_PROXY/HTTP_PROXY and NO_PROXY',
  },
  // logging
  { name: 'debug', type: 'boolean', commands: LOGGING, help: 'Debug logging (never logs secrets)' },
  {
    name: 'log-level',
    type: 'string',
    arg: 'LEVEL',
    commands: LOGGING,
    help: 'debug, info, warn or error (default info; error for credential-process, whose stderr SDKs show to users)',
  },
  { name: 'log-format', type: 'string', arg: 'FORMAT', default: 'json', commands: LOGGING, help: 'json or text (logs go to standard error)' },
  // credential-process
  { name: 'no-cache', type: 'boolean', commands: ['credential-process'], help: 'Do not reuse credentials cached on disk by earlier invocations' },
  {
    name: 'cache-dir',
    type: 'string',
    arg: 'PATH',
    commands: ['credential-process'],
    help: 'Private cache directory (default: $XDG_CACHE_HOME or ~/.cache, /rolesanywhere-sidecar)',
  },
  // serve
  {
    name: 'address',
    type: 'string',
    arg: 'ADDR',
    default: '127.0.0.1',
    commands: ['serve', 'emulator'],
    help: 'Address of the IMDS listener (serve) or of the emulator',
  },
  {
    name: 'port',
    type: 'number',
    arg: 'PORT',
    default: 9911,
    commands: ['serve', 'emulator'],
    help: 'Port of the IMDS listener (serve; 0 picks a free port) or of the emulator (default 0 there)',
  },
  { name: 'no-imds', type: 'boolean', commands: ['serve'], help: 'Do not start the IMDS endpoint' },
  { name: 'imdsv1', type: 'boolean', commands: ['serve'], help: 'Also answer IMDSv1 requests (no session token); off by default' },
  {
    name: 'serve-region',
    type: 'boolean',
    commands: ['serve'],
    help: 'Answer IMDS placement/region and placement/availability-zone (synthetic zone: the region plus "a") with the session\'s region, so SDKs find their region through IMDS',
  },
  {
    name: 'role-name',
    type: 'string',
    arg: 'NAME',
    commands: ['serve', 'credential-process', 'exec'],
    help: "serve: role name shown by IMDS (default: the role ARN's name); credential-process, exec: the --config role to use (default: its defaultRole)",
  },
  { name: 'container-address', type: 'string', arg: 'ADDR', default: '127.0.0.1', commands: ['serve'], help: 'Address of the container-credentials listener' },
  {
    name: 'container-port',
    type: 'number',
    arg: 'PORT',
    default: 9912,
    commands: ['serve'],
    help: 'Port of the container-credentials listener (0 picks a free port)',
  },
  { name: 'container-path', type: 'string', arg: 'PATH', default: '/credentials', commands: ['serve'], help: 'URL path of the container-credentials endpoint' },
  {
    name: 'container-token-file',
    type: 'string',
    arg: 'PATH',
    commands: ['serve'],
    help: 'Where the container authorization token is written (mode 0600, no newline); a token in ROLESANYWHERE_CONTAINER_TOKEN is used instead of a generated one',
  },
  { name: 'no-container', type: 'boolean', commands: ['serve'], help: 'Do not start the container-credentials endpoint' },
  {
    name: 'ops-address',
    type: 'string',
    arg: 'ADDR',
    default: '127.0.0.1',
    commands: ['serve', 'update'],
    help: 'Address of the /healthz, /readyz and /metrics listener',
  },
  {
    name: 'ops-port',
    type: 'number',
    arg: 'PORT',
    default: 9913,
    commands: ['serve', 'update'],
    help: 'Port of the operations listener (0 picks a free port; update starts one only when --ops-port is given)',
  },
  {
    name: 'allowed-host',
    type: 'string',
    arg: 'NAME',
    repeatable: true,
    commands: ['serve'],
    help: 'A host name the IMDS and container listeners accept in Host besides IP addresses and localhost (repeatable, or comma-separated)',
  },
  { name: 'no-ops', type: 'boolean', commands: ['serve'], help: 'Do not start the operations listener' },
  {
    name: 'allow-non-loopback',
    type: 'boolean',
    noEnv: true,
    commands: ['serve', 'emulator'],
    help: 'Allow every listener (serve) or the emulator to bind addresses other than loopback; prefer the per-listener flags below (command line only)',
  },
  {
    name: 'imds-allow-non-loopback',
    type: 'boolean',
    noEnv: true,
    commands: ['serve'],
    help: 'Allow the IMDS (credential) listener to bind a non-loopback --address (command line only)',
  },
  {
    name: 'container-allow-non-loopback',
    type: 'boolean',
    noEnv: true,
    commands: ['serve'],
    help: 'Allow the container-credentials listener to bind a non-loopback --container-address (command line only)',
  },
  {
    name: 'ops-allow-non-loopback',
    type: 'boolean',
    noEnv: true,
    commands: ['serve', 'update'],
    help: 'Allow the operations listener (/healthz, /readyz, /metrics; no credentials) to bind a non-loopback --ops-address, e.g. 0.0.0.0 for kubelet probes (command line only)',
  },
  {
    name: 'rotation-jitter',
    type: 'number',
    arg: 'SECONDS',
    default: 300,
    commands: ['serve', 'exec', 'update'],
    help: "After a certificate rotation or SIGHUP, refresh at a random point within this many seconds (cut to half the held credentials' life; 0: at once), so a fleet-wide rotation is no herd",
  },
  {
    name: 'min-remaining',
    type: 'number',
    arg: 'SECONDS',
    default: 1800,
    commands: ['serve', 'exec', 'update'],
    help: 'Life every served credential should have left, where the session duration allows',
  },
  {
    name: 'identity-poll-interval',
    type: 'number',
    arg: 'SECONDS',
    default: 10,
    commands: ['serve', 'exec', 'update'],
    help: 'How often certificate and key files are checked for rotation',
  },
  // update
  { name: 'profile', type: 'string', arg: 'NAME', default: 'default', commands: ['update'], help: 'Profile written in the shared credentials file' },
  { name: 'once', type: 'boolean', commands: ['update', 'demo'], help: 'Write once and exit (update); run one round and exit (demo)' },
  // sign-string
  { name: 'digest', type: 'string', arg: 'ALG', default: 'SHA256', commands: ['sign-string'], help: 'SHA256, SHA384 or SHA512' },
  {
    name: 'format',
    type: 'string',
    arg: 'FORMAT',
    default: 'json',
    commands: ['sign-string'],
    help: 'json (the hex signature as a JSON string), text (hex) or bin',
  },
  // emulator
  {
    name: 'trust-anchor-ca',
    type: 'string',
    arg: 'PATH',
    commands: ['emulator', 'setup'],
    help: 'PEM bundle of the CA certificates the trust anchor trusts (emulator default: certs-example/root-ca.pem)',
  },
  {
    name: 'account',
    type: 'string',
    arg: 'ID',
    default: '123456789012',
    commands: ['emulator'],
    help: 'Account ID of the emulated trust anchor, profile and role',
  },
  { name: 'emulator-region', type: 'string', arg: 'REGION', default: 'us-east-1', commands: ['emulator'], help: 'Region of the emulated service' },
  {
    name: 'credential-lifetime',
    type: 'number',
    arg: 'SECONDS',
    commands: ['emulator'],
    help: 'Cap the lifetime of issued credentials (e.g. 60 to exercise refreshes)',
  },
  { name: 'max-duration', type: 'number', arg: 'SECONDS', default: 3600, commands: ['emulator'], help: "The emulated profile's maximum session duration" },
  { name: 'tls-cert', type: 'string', arg: 'PATH', commands: ['emulator'], help: 'Serve HTTPS with this certificate (PEM)' },
  { name: 'tls-key', type: 'string', arg: 'PATH', commands: ['emulator'], help: 'Private key of --tls-cert' },
  {
    name: 'fault',
    type: 'string',
    arg: 'SPEC',
    commands: ['emulator'],
    help: 'Inject faults into CreateSession, e.g. "2*503,429:retry-after=1,drop,delay=500,empty-set,malformed,outage,throttle=5"',
  },
  {
    name: 'assumable-role',
    type: 'string',
    arg: 'SPEC',
    repeatable: true,
    commands: ['emulator'],
    help: 'A role STS AssumeRole hands out: ROLE_ARN[;trust=ARN|ARN...][;external-id=ID][;max-duration=SECONDS] (repeatable; trusts the emulated Roles Anywhere role by default)',
  },
  {
    name: 'sts-disabled-region',
    type: 'string',
    arg: 'REGION',
    repeatable: true,
    commands: ['emulator'],
    help: 'A region where the emulated STS is not activated (AssumeRole answers RegionDisabledException; repeatable)',
  },
  { name: 'admin-api', type: 'boolean', commands: ['emulator'], help: 'Enable /__emulator/* (fault injection, stats) for tests' },
  {
    name: 'admin-access-key-id',
    type: 'string',
    arg: 'ID',
    commands: ['emulator'],
    help: 'Access key id whose SigV4 signature the emulated control plane (CreateTrustAnchor, ImportCrl, ...) accepts (default: a random pair, printed to standard error)',
  },
  {
    name: 'admin-secret-access-key',
    type: 'string',
    arg: 'SECRET',
    commands: ['emulator'],
    help: 'Secret access key of --admin-access-key-id (prefer the environment variable)',
  },
  {
    name: 'state',
    type: 'string',
    arg: 'PATH',
    commands: ['emulator'],
    help: 'Keep the emulated trust anchors, profiles, CRLs and subjects in this JSON file across restarts (written atomically, mode 0600)',
  },
  // setup
  {
    name: 'role-arns',
    type: 'string',
    arg: 'ARN',
    repeatable: true,
    commands: ['setup'],
    help: 'More role ARNs the profile allows (repeatable, or comma-separated)',
  },
  {
    name: 'name',
    type: 'string',
    arg: 'NAME',
    default: 'rolesanywhere-sidecar',
    commands: ['setup'],
    help: 'Name of the trust anchor and profile that setup creates or finds',
  },
  // doctor
  { name: 'json', type: 'boolean', commands: ['doctor'], help: 'Print the checks as one JSON document instead of one line each' },
  // hardware-bound keys: PKCS#11 tokens and TPM 2.0
  {
    name: 'pkcs11-lib',
    type: 'string',
    arg: 'PATH',
    default: 'p11-kit-proxy.so',
    commands: IDENTITY,
    help: 'PKCS#11 module for pkcs11: URIs in --certificate / --private-key (p11-kit-proxy.so reaches every module p11-kit knows)',
  },
  {
    name: 'pkcs11-pin',
    type: 'string',
    arg: 'PIN',
    commands: IDENTITY,
    help: 'User PIN of the PKCS#11 token when the URI has no pin-source= (prefer the environment variable: a command line is visible to other users)',
  },
  {
    name: 'reuse-pin',
    type: 'boolean',
    commands: IDENTITY,
    help: 'For a key with CKA_ALWAYS_AUTHENTICATE, log in with the user PIN again before each signature instead of asking',
  },
  {
    name: 'tpm-key-password',
    type: 'string',
    arg: 'PASSWORD',
    commands: KEYED,
    help: 'Authorisation value of the TPM key (TSS2 PEM or handle:0x81...) (prefer the environment variable)',
  },
  { name: 'no-tpm-key-password', type: 'boolean', commands: KEYED, help: 'The TPM key has no password: never use one' },
  // official-helper flags this release does not implement: refused, never ignored
  {
    name: 'cert-selector',
    type: 'string',
    notSupported: true,
    commands: IDENTITY,
    help: 'OS certificate store selector (macOS Keychain, Windows certificate store)',
    refusal:
      'selects a certificate in the macOS Keychain or the Windows certificate store, which Linux does not have: pass --certificate with a file or a pkcs11: URI instead',
  },
  {
    name: 'system-store-name',
    type: 'string',
    notSupported: true,
    commands: IDENTITY,
    help: 'Windows certificate store name',
    refusal: 'names a Windows certificate store, which Linux does not have: pass --certificate with a file or a pkcs11: URI instead',
  },
  {
    name: 'use-latest-expiring-certificate',
    type: 'boolean',
    notSupported: true,
    commands: IDENTITY,
    help: 'OS certificate store selection (not supported yet)',
  },
  {
    name: 'hop-limit',
    type: 'number',
    notSupported: true,
    commands: ['serve'],
    help: 'IP TTL of IMDS responses (not supported yet: the listeners bind loopback by default instead)',
  },
];

export function flagsFor(command: CommandName): FlagSpec[] {
  return FLAGS.filter((f) => f.commands.includes(command));
}
