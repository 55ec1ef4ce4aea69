/**
 * The emulator's world: one account in one region, its trust anchors (CA bundles) and
 * profiles (role lists). Pure data plus validation; the verifier and the server read it,
 * nothing mutates it.
 */
import { X509Certificate } from 'node:crypto';
import { SidecarError, oneLine } from '../core/errors.js';

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov' | 'aws-iso' | 'aws-iso-b' | 'aws-iso-e' | 'aws-iso-f';

export const PARTITIONS: readonly Partition[] = ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f'];

export interface EmulatorTrustAnchor {
  readonly arn: string;
  /** The CA certificates a leaf must chain to (the trust anchor's certificate bundle). */
  readonly roots: readonly X509Certificate[];
  /** Default true. A disabled trust anchor refuses every session (AccessDenied), as in AWS. */
  readonly enabled?: boolean;
  /** The anchor's enabled CRLs whose signature verified against its bundle. */
  readonly crls?: readonly RevocationList[];
  /** Why the anchor trusts no certificate at all (e.g. an AWS_ACM_PCA source the emulator cannot reach). */
  readonly untrustedReason?: string;
}

/** What CreateSession needs of one imported CRL: who issued it and which serials it revokes. */
export interface RevocationList {
  readonly crlArn: string;
  readonly name: string;
  /** DER of the CRL's issuer name, hex: matched against each certificate's issuer. */
  readonly issuerDerHex: string;
  /** Revoked serial numbers, lower-case hex without leading zeros. */
  readonly revokedSerials: ReadonlySet<string>;
}

export interface EmulatorProfile {
  readonly arn: string;
  readonly roleArns: readonly string[];
  /** Longest session the profile grants; the service's default is 3600. */
  readonly maxDurationSeconds?: number;
  /** Default true. */
  readonly enabled?: boolean;
  /**
   * Whether a caller may choose `roleSessionName` (the service's `acceptRoleSessionName`,
   * false by default in AWS; `defaultEmulatorConfig` turns it on so the CLI flag can be tried).
   */
  readonly acceptRoleSessionName?: boolean;
}

export interface EmulatorConfig {
  readonly accountId: string;
  readonly region: string;
  /** Default `aws`. */
  readonly partition?: Partition;
  readonly trustAnchors: readonly EmulatorTrustAnchor[];
  readonly profiles: readonly EmulatorProfile[];
  /**
   * Caps the lifetime of issued credentials (seconds), below the requested duration if need
   * be, so tests can watch a refresh happen within a minute. May be below 900; the service
   * itself never issues less than 900 seconds.
   */
  readonly credentialLifetimeSeconds?: number;
  /** Largest accepted difference between X-Amz-Date and the emulator's clock; SigV4 allows 5 minutes. */
  readonly maxClockSkewMs?: number;
}

/** SigV4's limit on the distance between X-Amz-Date and the server's clock. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** The service's default profile duration. */
export const DEFAULT_PROFILE_MAX_DURATION_SECONDS = 3600;
/** CreateSession's documented range for durationSeconds. */
export const MIN_DURATION_SECONDS = 900;
export const MAX_DURATION_SECONDS = 43200;

export const DEFAULT_ACCOUNT_ID = '123456789012';
export const DEFAULT_REGION = 'us-east-1';
/* Fixed ids so the README, the demo and the tests can print and type the same ARNs. */
export const DEFAULT_TRUST_ANCHOR_ID = '0b7a9c3e-5d1f-4e2a-9b6c-8d4e2f1a3c5b';
export const DEFAULT_PROFILE_ID = '6e2d4f8a-1c3b-4a5d-8e7f-9a0b1c2d3e4f';
export const DEFAULT_ROLE_NAME = 'rolesanywhere-demo';

export function trustAnchorArnFor(region: string, accountId: string, id = DEFAULT_TRUST_ANCHOR_ID, partition: Partition = 'aws'): string {
  return `arn:${partition}:rolesanywhere:${region}:${accountId}:trust-anchor/${id}`;
}

export function profileArnFor(region: string, accountId: string, id = DEFAULT_PROFILE_ID, partition: Partition = 'aws'): string {
  return `arn:${partition}:rolesanywhere:${region}:${accountId}:profile/${id}`;
}

export function roleArnFor(accountId: string, name = DEFAULT_ROLE_NAME, partition: Partition = 'aws'): string {
  return `arn:${partition}:iam::${accountId}:role/${name}`;
}

export const DEFAULT_TRUST_ANCHOR_ARN = trustAnchorArnFor(DEFAULT_REGION, DEFAULT_ACCOUNT_ID);
export const DEFAULT_PROFILE_ARN = profileArnFor(DEFAULT_REGION, DEFAULT_ACCOUNT_ID);
export const DEFAULT_ROLE_ARN = roleArnFor(DEFAULT_ACCOUNT_ID);

export interface DefaultEmulatorConfigOptions {
  readonly roots: readonly X509Certificate[];
  readonly accountId?: string;
  readonly region?: string;
  readonly partition?: Partition;
  readonly credentialLifetimeSeconds?: number;
  readonly maxDurationSeconds?: number;
}

/**
 * One trust anchor over `roots`, one profile allowing the demo role, fixed ids: the world
 * the README and `demo` describe. ARNs follow the region and account given.
 */
export function defaultEmulatorConfig(opts: DefaultEmulatorConfigOptions): EmulatorConfig {
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const region = opts.region ?? DEFAULT_REGION;
  const partition = opts.partition ?? 'aws';
  const config: EmulatorConfig = {
    accountId,
    region,
    partition,
    trustAnchors: [{ arn: trustAnchorArnFor(region, accountId, DEFAULT_TRUST_ANCHOR_ID, partition), roots: [...opts.roots] }],
    profiles: [
      {
        arn: profileArnFor(region, accountId, DEFAULT_PROFILE_ID, partition),
        roleArns: [roleArnFor(accountId, DEFAULT_ROLE_NAME, partition)],
        maxDurationSeconds: opts.maxDurationSeconds ?? DEFAULT_PROFILE_MAX_DURATION_SECONDS,
        acceptRoleSessionName: true,
      },
    ],
    ...(opts.credentialLifetimeSeconds !== undefined ? { credentialLifetimeSeconds: opts.credentialLifetimeSeconds } : {}),
  };
  validateEmulatorConfig(config);
  return config;
}

// ---- ARN shapes (shared with the verifier) ----

/*
 * Resource ids: the service issues lower-case UUIDs; the emulator accepts any
 * letters/digits/dashes id so hand-written configs work, but the request side must still
 * match a configured ARN exactly.
 */
const RA_ARN = /^arn:(aws(?:-[a-z]+)*):rolesanywhere:([a-z]{2,8}(?:-[a-z0-9]+)+-\d{1,3}):(\d{12}):(trust-anchor|profile)\/([A-Za-z0-9][A-Za-z0-9-]{0,127})$/;
// IAM role names are [\w+=,.@-]{1,64}; paths are '/'-separated printable ASCII.
const ROLE_ARN = /^arn:(aws(?:-[a-z]+)*):iam::(\d{12}):role\/(?:[\x21-\x7e]{0,511}\/)?([\w+=,.@-]{1,64})$/;
/** IAM documents 2048 characters as the longest ARN. */
export const MAX_ARN_LENGTH = 2048;

export interface RolesAnywhereArn {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly type: 'trust-anchor' | 'profile';
  readonly id: string;
}

export interface RoleArnParts {
  readonly partition: string;
  readonly accountId: string;
  readonly roleName: string;
}

export function parseRolesAnywhereArn(value: string): RolesAnywhereArn | undefined {
  if (value.length > MAX_ARN_LENGTH) return undefined;
  const m = RA_ARN.exec(value);
  if (!m) return undefined;
  return { partition: m[1]!, region: m[2]!, accountId: m[3]!, type: m[4] as 'trust-anchor' | 'profile', id: m[5]! };
}

export function parseRoleArnParts(value: string): RoleArnParts | undefined {
  if (value.length > MAX_ARN_LENGTH) return undefined;
  const m = ROLE_ARN.exec(value);
  if (!m) return undefined;
  return { partition: m[1]!, accountId: m[2]!, roleName: m[3]! };
}

function invalid(msg: string): SidecarError {
  return new SidecarError('CONFIG_INVALID', oneLine(msg));
}

/**
 * Refuses a world the real service could not have: resources in another region, account
 * or partition than the emulator's, non-CA trust anchors, durations outside the service's
 * range. Throws CONFIG_INVALID naming the offending entry.
 */
export function validateEmulatorConfig(c: EmulatorConfig): void {
  const partition = c.partition ?? 'aws';
  if (!PARTITIONS.includes(partition)) {
    throw invalid(`emulator partition "${String(partition)}" is unknown: use one of ${PARTITIONS.join(', ')}`);
  }
  if (!/^\d{12}$/.test(c.accountId)) throw invalid(`emulator account "${c.accountId}" is not a 12-digit AWS account id: pass e.g. --account 123456789012`);
  if (!/^[a-z]{2,8}(-[a-z0-9]+)+-\d{1,3}$/.test(c.region))
    throw invalid(`emulator region "${c.region}" is not an AWS region name: pass e.g. --region us-east-1`);
  if (c.trustAnchors.length === 0) throw invalid('the emulator has no trust anchor: give it at least one CA certificate (--trust-anchor-ca)');
  const where = `${c.region}, account ${c.accountId}, partition ${partition}`;
  const seen = new Set<string>();
  for (const ta of c.trustAnchors) {
    const p = parseRolesAnywhereArn(ta.arn);
    if (p === undefined || p.type !== 'trust-anchor')
      throw invalid(`trust anchor ARN "${ta.arn}" is malformed: expected arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<id>`);
    if (p.region !== c.region || p.accountId !== c.accountId || p.partition !== partition)
      throw invalid(`trust anchor "${ta.arn}" is not in the emulator's ${where}: use an ARN in that region and account`);
    if (seen.has(ta.arn)) throw invalid(`trust anchor "${ta.arn}" is configured twice: give each trust anchor its own id`);
    seen.add(ta.arn);
    if (ta.roots.length === 0) throw invalid(`trust anchor "${ta.arn}" has no CA certificates: give it at least one root`);
    for (const root of ta.roots) {
      if (!root.ca)
        throw invalid(
          `trust anchor "${ta.arn}" holds "${subjectLine(root)}", which is not a CA certificate (basicConstraints cA is not set): use the issuing CA's certificate`,
        );
    }
  }
  if (c.profiles.length === 0) throw invalid('the emulator has no profile: configure at least one profile with a role');
  for (const pr of c.profiles) {
    const p = parseRolesAnywhereArn(pr.arn);
    if (p === undefined || p.type !== 'profile')
      throw invalid(`profile ARN "${pr.arn}" is malformed: expected arn:aws:rolesanywhere:<region>:<account>:profile/<id>`);
    if (p.region !== c.region || p.accountId !== c.accountId || p.partition !== partition)
      throw invalid(`profile "${pr.arn}" is not in the emulator's ${where}: use an ARN in that region and account`);
    if (seen.has(pr.arn)) throw invalid(`profile "${pr.arn}" is configured twice: give each profile its own id`);
    seen.add(pr.arn);
    if (pr.roleArns.length === 0) throw invalid(`profile "${pr.arn}" lists no role: add at least one role ARN`);
    for (const r of pr.roleArns) {
      const rp = parseRoleArnParts(r);
      // The service refuses roles in another account than the profile's (no cross-account pass-role).
      if (rp === undefined) throw invalid(`role ARN "${r}" in profile "${pr.arn}" is malformed: expected arn:aws:iam::<account>:role/<name>`);
      if (rp.accountId !== c.accountId || rp.partition !== partition)
        throw invalid(`role "${r}" in profile "${pr.arn}" is not in the emulator's account ${c.accountId}: use a role of that account`);
    }
    const max = pr.maxDurationSeconds ?? DEFAULT_PROFILE_MAX_DURATION_SECONDS;
    if (!Number.isInteger(max) || max < MIN_DURATION_SECONDS || max > MAX_DURATION_SECONDS) {
      throw invalid(`profile "${pr.arn}" has maxDurationSeconds ${max}: use an integer from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`);
    }
  }
  const life = c.credentialLifetimeSeconds;
  if (life !== undefined && (!Number.isInteger(life) || life < 1 || life > MAX_DURATION_SECONDS)) {
    throw invalid(`credential lifetime ${life} is not a whole number of seconds from 1 to ${MAX_DURATION_SECONDS}: pass e.g. --credential-lifetime 60`);
  }
  const skew = c.maxClockSkewMs;
  if (skew !== undefined && (!Number.isFinite(skew) || skew < 0)) throw invalid(`maxClockSkewMs ${skew} must be a non-negative number of milliseconds`);
}

function subjectLine(cert: X509Certificate): string {
  return oneLine(cert.subject.replace(/\n/g, ', '), 120);
}
