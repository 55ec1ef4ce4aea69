/**
 * STS AssumeRole as the emulator decides it: parameter constraints, the target role's
 * trust policy (trusted source roles, the `sts:ExternalId` condition), durations, session
 * policies, session tags and source identity. Pure: the caller's session, the request's
 * parameters and the configured roles in, a grant or an STS error out. Minting the
 * credentials and writing XML is sts.ts's job.
 *
 * Constraints and messages follow the STS API reference for AssumeRole
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html) and the IAM
 * guide on role chaining, session tags and source identity
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html).
 */
import { deflateRawSync } from 'node:zlib';
import { SidecarError, oneLine } from '../core/errors.js';
import { MAX_ARN_LENGTH, parseRoleArnParts } from './config.js';

/** One role STS may hand out, with its trust policy reduced to what the emulator checks. */
export interface StsRole {
  /** `arn:aws:iam::<account>:role/<name>`: any account, which is the point of chaining. */
  readonly arn: string;
  /**
   * Principals the trust policy names: role ARNs whose sessions may assume this role, or
   * `arn:aws:iam::<account>:root` for every principal of that account.
   */
  readonly trustedPrincipals: readonly string[];
  /** The trust policy's `sts:ExternalId` condition (StringEquals), if any. */
  readonly externalId?: string;
  /** The role's MaxSessionDuration: 3600..43200, default 3600. */
  readonly maxSessionDurationSeconds?: number;
}

/** The emulator's STS world beyond GetCallerIdentity. */
export interface StsSettings {
  readonly roles: readonly StsRole[];
  /** Regions where STS is not activated for the account: AssumeRole there is RegionDisabledException. */
  readonly disabledRegions?: readonly string[];
  /** Every AssumeRole answers 503 ServiceUnavailable (an outage, for refresh tests). */
  readonly outage?: boolean;
}

/** What the emulator knows of the calling session (from its own issued store). */
export interface CallerSession {
  /** The role the caller's credentials are a session of. */
  readonly roleArn: string;
  readonly assumedRoleArn: string;
  readonly accountId: string;
  readonly sourceIdentity?: string;
  /** Transitive session tags the caller carries (inherited by a chained session). */
  readonly transitiveTags?: Readonly<Record<string, string>>;
}

export interface AssumeRoleGrant {
  readonly roleArn: string;
  readonly accountId: string;
  readonly roleName: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
  readonly externalIdUsed: boolean;
  readonly sourceIdentity?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly transitiveTags: Readonly<Record<string, string>>;
  readonly policy?: string;
  readonly policyArns: readonly string[];
  /** Percent of the packed-policy budget used; present when a policy, policy ARN or tag was sent. */
  readonly packedPolicySize?: number;
}

export interface AssumeRoleFailure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export type AssumeRoleDecision = { ok: true; grant: AssumeRoleGrant } | ({ ok: false } & AssumeRoleFailure);

/* AssumeRole's documented constraints. */
export const ROLE_SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
export const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;
export const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** Inline session policy and managed session policy ARNs together: 2,048 characters of plaintext. */
export const MAX_POLICY_CHARS = 2048;
export const MAX_POLICY_ARNS = 10;
export const MAX_SESSION_TAGS = 50;
export const MAX_TAG_KEY = 128;
export const MAX_TAG_VALUE = 256;
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** A chained session (role credentials assuming a role) lasts at most one hour. */
export const ROLE_CHAINING_MAX_SECONDS = 3600;
export const DEFAULT_ROLE_MAX_SESSION_SECONDS = 3600;
/*
 * STS packs session policies and tags into the session token in a compressed form whose
 * budget it does not publish; the emulator models it as 2 KiB of raw deflate, which a
 * 2,048-character policy never exceeds and ~50 long, random tags do.
 */
export const PACKED_BUDGET_BYTES = 2048;
const POLICY_ARN = /^arn:(aws(?:-[a-z]+)*):iam::(aws|\d{12}):policy\/(?:[\x21-\x7e]{0,511}\/)?[\w+=,.@-]{1,128}$/;
/* The emulator's AssumeRole bounds its own inputs: a request body is at most 64 KiB anyway. */
const MAX_INDEXED_MEMBERS = 100;

function fail(status: number, code: string, message: string): { ok: false } & AssumeRoleFailure {
  return { ok: false, status, code, message };
}

function shown(v: string): string {
  return oneLine(v, 80);
}

/** Reads `Prefix.member.N[.Suffix]` list members in index order, bounded. */
function members(params: ReadonlyMap<string, string>, prefix: string, suffix = ''): Map<number, string> {
  const out = new Map<number, string>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.member\\.(\\d{1,3})${suffix.replace(/\./g, '\\.')}$`);
  for (const [k, v] of params) {
    const m = re.exec(k);
    if (m) out.set(Number(m[1]), v);
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

function validationError(problems: string[]): { ok: false } & AssumeRoleFailure {
  const n = problems.length;
  return fail(400, 'ValidationError', `${n} validation error${n === 1 ? '' : 's'} detected: ${problems.join('; ')}`);
}

/**
 * Decides an AssumeRole. `params` holds the query parameters (first value of each name);
 * `caller` is the session that signed the request.
 */
export function decideAssumeRole(
  params: ReadonlyMap<string, string>,
  caller: CallerSession,
  settings: StsSettings,
  context: { readonly signingRegion: string; readonly partition: string },
): AssumeRoleDecision {
  if (settings.outage === true)
    return fail(503, 'ServiceUnavailable', 'Service is unavailable, please try again later (the emulator is scripted to an STS outage)');
  if (settings.disabledRegions?.includes(context.signingRegion) === true) {
    return fail(
      403,
      'RegionDisabledException',
      `STS is not activated in this region for account:${caller.accountId}. Your account administrator can activate STS in this region using the IAM Console.`,
    );
  }

  const problems: string[] = [];
  const roleArn = params.get('RoleArn');
  const sessionName = params.get('RoleSessionName');
  if (roleArn === undefined) problems.push("Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
  else if (roleArn.length < 20 || roleArn.length > MAX_ARN_LENGTH)
    problems.push(`Value '${shown(roleArn)}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and ${MAX_ARN_LENGTH}`);
  if (sessionName === undefined) problems.push("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
  else if (!ROLE_SESSION_NAME.test(sessionName)) {
    problems.push(
      `Value '${shown(sessionName)}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*`,
    );
  }
  const durationRaw = params.get('DurationSeconds');
  let durationSeconds = 3600;
  if (durationRaw !== undefined) {
    if (!/^\d{1,6}$/.test(durationRaw))
      problems.push(`Value '${shown(durationRaw)}' at 'durationSeconds' failed to satisfy constraint: Member must be an integer`);
    else {
      durationSeconds = Number(durationRaw);
      if (durationSeconds < 900)
        problems.push(`Value '${durationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
      if (durationSeconds > 43200)
        problems.push(`Value '${durationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200`);
    }
  }
  const externalId = params.get('ExternalId');
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) {
    problems.push(
      `Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:/-]*`,
    );
  }
  const sourceIdentity = params.get('SourceIdentity');
  if (sourceIdentity !== undefined && (!SOURCE_IDENTITY.test(sourceIdentity) || sourceIdentity.toLowerCase().startsWith('aws:'))) {
    problems.push(
      `Value '${shown(sourceIdentity)}' at 'sourceIdentity' failed to satisfy constraint: Member must have length between 2 and 64, satisfy regular expression pattern: [\\w+=,.@-]* and not begin with "aws:"`,
    );
  }
  const policy = params.get('Policy');
  if (policy !== undefined && (policy.length < 1 || policy.length > MAX_POLICY_CHARS)) {
    problems.push(`Value at 'policy' failed to satisfy constraint: Member must have length between 1 and ${MAX_POLICY_CHARS}`);
  }
  const policyArns = [...members(params, 'PolicyArns', '.arn').values()];
  if (policyArns.length > MAX_POLICY_ARNS)
    problems.push(`Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to ${MAX_POLICY_ARNS}`);
  for (const a of policyArns) {
    if (!POLICY_ARN.test(a))
      problems.push(
        `Value '${shown(a)}' at 'policyArns.member.arn' failed to satisfy constraint: Member must be an IAM policy ARN (arn:aws:iam::<account or aws>:policy/<name>)`,
      );
  }
  const tagKeys = members(params, 'Tags', '.Key');
  const tagValues = members(params, 'Tags', '.Value');
  if (tagKeys.size > MAX_SESSION_TAGS)
    problems.push(`Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SESSION_TAGS}`);
  const tags: Record<string, string> = {};
  const seenKeys = new Set<string>();
  for (const [i, key] of tagKeys) {
    const value = tagValues.get(i) ?? '';
    if (key.length < 1 || key.length > MAX_TAG_KEY || !TAG_CHARS.test(key) || key.toLowerCase().startsWith('aws:')) {
      problems.push(
        `Value '${shown(key)}' at 'tags.${i}.member.key' failed to satisfy constraint: Member must have length between 1 and ${MAX_TAG_KEY}, satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+ and not begin with "aws:"`,
      );
    }
    if (value.length > MAX_TAG_VALUE || !TAG_CHARS.test(value)) {
      problems.push(
        `Value at 'tags.${i}.member.value' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAG_VALUE} and satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`,
      );
    }
    if (seenKeys.has(key.toLowerCase())) problems.push(`Duplicate tag keys found: '${shown(key)}' (tag keys are case insensitive)`);
    seenKeys.add(key.toLowerCase());
    tags[key] = value;
  }
  const transitiveKeys = [...members(params, 'TransitiveTagKeys').values()];
  if (transitiveKeys.length > MAX_SESSION_TAGS)
    problems.push(`Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SESSION_TAGS}`);
  if (members(params, 'Tags', '.Key').size + policyArns.length + transitiveKeys.length > 3 * MAX_INDEXED_MEMBERS)
    problems.push('Value at request failed to satisfy constraint: too many list members');
  if (problems.length > 0) return validationError(problems.slice(0, 5));

  for (const k of transitiveKeys) {
    if (!seenKeys.has(k.toLowerCase())) {
      return fail(400, 'InvalidParameterValue', `The specified transitive tag key '${shown(k)}' must be included in the requested tags.`);
    }
  }
  const inherited = caller.transitiveTags ?? {};
  for (const k of Object.keys(tags)) {
    const clash = Object.keys(inherited).find((i) => i.toLowerCase() === k.toLowerCase());
    if (clash !== undefined) {
      return fail(
        400,
        'InvalidParameterValue',
        `One or more tags in the request conflict with the transitive session tag '${shown(clash)}' of the calling session: a chained session cannot override it.`,
      );
    }
  }

  if (policy !== undefined) {
    const problem = policyProblem(policy);
    if (problem !== undefined) return fail(400, 'MalformedPolicyDocument', `Syntax errors in policy: ${problem}`);
  }

  // Unknown and untrusted roles get the same answer: STS does not say which roles exist.
  const denied = fail(403, 'AccessDenied', `User: ${caller.assumedRoleArn} is not authorized to perform: sts:AssumeRole on resource: ${shown(roleArn!)}`);
  const target = parseRoleArnParts(roleArn!);
  const role = settings.roles.find((r) => r.arn === roleArn);
  if (target === undefined || target.partition !== context.partition || role === undefined) return denied;
  const callerAccountRoot = `arn:${context.partition}:iam::${caller.accountId}:root`;
  if (!role.trustedPrincipals.includes(caller.roleArn) && !role.trustedPrincipals.includes(callerAccountRoot)) return denied;
  if (role.externalId !== undefined && externalId !== role.externalId) return denied;
  if (params.has('SerialNumber') || params.has('TokenCode')) {
    return fail(403, 'AccessDenied', 'MultiFactorAuthentication failed, unable to validate MFA code: the emulator has no MFA devices');
  }
  if (sourceIdentity !== undefined && caller.sourceIdentity !== undefined && sourceIdentity !== caller.sourceIdentity) {
    return fail(
      403,
      'AccessDenied',
      `User: ${caller.assumedRoleArn} is not authorized to perform: sts:SetSourceIdentity on resource: ${roleArn!}: the calling session's source identity is ${shown(caller.sourceIdentity)} and cannot be changed`,
    );
  }

  const max = role.maxSessionDurationSeconds ?? DEFAULT_ROLE_MAX_SESSION_SECONDS;
  if (durationSeconds > max) return fail(400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  // Every caller the emulator knows holds role credentials (Roles Anywhere's or a chained session's).
  if (durationSeconds > ROLE_CHAINING_MAX_SECONDS) {
    return fail(400, 'ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }

  const transitive: Record<string, string> = { ...inherited };
  for (const k of transitiveKeys) {
    const actual = Object.keys(tags).find((t) => t.toLowerCase() === k.toLowerCase())!;
    transitive[actual] = tags[actual]!;
  }
  const allTags = { ...inherited, ...tags };
  let packedPolicySize: number | undefined;
  if (policy !== undefined || policyArns.length > 0 || Object.keys(allTags).length > 0) {
    const tagBytes = deflateRawSync(Buffer.from(JSON.stringify(allTags), 'utf8')).length;
    const tagPercent = Math.ceil((tagBytes * 100) / PACKED_BUDGET_BYTES);
    if (Object.keys(allTags).length > 0 && tagPercent > 100) {
      return fail(400, 'PackedPolicyTooLarge', `Packed size of session tags consumes ${tagPercent}% of allotted space.`);
    }
    const packed = deflateRawSync(Buffer.from(JSON.stringify([policy ?? '', policyArns, allTags]), 'utf8')).length;
    packedPolicySize = Math.ceil((packed * 100) / PACKED_BUDGET_BYTES);
    if (packedPolicySize > 100) {
      return fail(400, 'PackedPolicyTooLarge', `Packed policy consumes ${packedPolicySize}% of allotted space, please use smaller policy for this session.`);
    }
  }

  const effectiveSourceIdentity = caller.sourceIdentity ?? sourceIdentity;
  return {
    ok: true,
    grant: {
      roleArn: roleArn!,
      accountId: target.accountId,
      roleName: target.roleName,
      sessionName: sessionName!,
      durationSeconds,
      externalIdUsed: externalId !== undefined,
      ...(effectiveSourceIdentity !== undefined ? { sourceIdentity: effectiveSourceIdentity } : {}),
      tags: allTags,
      transitiveTags: transitive,
      ...(policy !== undefined ? { policy } : {}),
      policyArns,
      ...(packedPolicySize !== undefined ? { packedPolicySize } : {}),
    },
  };
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);

function stringOrStrings(v: unknown): boolean {
  return typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));
}

/**
 * Why a session policy is malformed, or undefined when it has the IAM policy grammar's
 * shape (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html):
 * a JSON object with an optional Version and a Statement of objects, each with an Effect,
 * one of Action/NotAction and one of Resource/NotResource. A session policy names no Principal.
 */
export function policyProblem(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'the policy is not valid JSON';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'the policy must be a JSON object';
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['Version', 'Id', 'Statement'].includes(k)) return `unknown policy element "${shown(k)}"`;
  if (o.Version !== undefined && o.Version !== '2012-10-17' && o.Version !== '2008-10-17') return 'Version must be "2012-10-17" (or "2008-10-17")';
  if (o.Statement === undefined) return 'the policy has no Statement';
  const statements = Array.isArray(o.Statement) ? o.Statement : [o.Statement];
  if (statements.length === 0) return 'Statement is empty';
  for (const [i, s] of statements.entries()) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return `Statement ${i} is not an object`;
    const st = s as Record<string, unknown>;
    for (const k of Object.keys(st)) if (!STATEMENT_KEYS.has(k)) return `Statement ${i} has an unknown element "${shown(k)}"`;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') return `Statement ${i} needs "Effect": "Allow" or "Deny"`;
    if (st.Principal !== undefined || st.NotPrincipal !== undefined) return `Statement ${i} names a Principal, which a session policy cannot`;
    if ((st.Action === undefined) === (st.NotAction === undefined)) return `Statement ${i} needs exactly one of Action and NotAction`;
    if (!stringOrStrings(st.Action ?? st.NotAction)) return `Statement ${i}'s Action must be a string or a list of strings`;
    if ((st.Resource === undefined) === (st.NotResource === undefined)) return `Statement ${i} needs exactly one of Resource and NotResource`;
    if (!stringOrStrings(st.Resource ?? st.NotResource)) return `Statement ${i}'s Resource must be a string or a list of strings`;
    if (st.Condition !== undefined && (typeof st.Condition !== 'object' || st.Condition === null || Array.isArray(st.Condition))) {
      return `Statement ${i}'s Condition must be an object`;
    }
  }
  return undefined;
}

function invalid(msg: string): SidecarError {
  return new SidecarError('CONFIG_INVALID', oneLine(msg));
}

/** Checks configured roles (from flags or the admin API); throws CONFIG_INVALID naming the entry. */
export function validateStsRoles(roles: readonly StsRole[], partition: string): void {
  if (roles.length > 1000) throw invalid(`${roles.length} STS roles configured; the emulator holds at most 1000`);
  const seen = new Set<string>();
  for (const r of roles) {
    const p = parseRoleArnParts(r.arn);
    if (p === undefined || p.partition !== partition)
      throw invalid(`STS role "${shown(r.arn)}" is not a role ARN of partition ${partition}: expected arn:${partition}:iam::<account>:role/<name>`);
    if (seen.has(r.arn)) throw invalid(`STS role "${r.arn}" is configured twice`);
    seen.add(r.arn);
    if (r.trustedPrincipals.length === 0 || r.trustedPrincipals.length > 100)
      throw invalid(`STS role "${r.arn}" must trust 1 to 100 principals (role ARNs or arn:${partition}:iam::<account>:root)`);
    for (const t of r.trustedPrincipals) {
      if (parseRoleArnParts(t) === undefined && !new RegExp(`^arn:${partition}:iam::\\d{12}:root$`).test(t)) {
        throw invalid(`STS role "${r.arn}" trusts "${shown(t)}", which is neither a role ARN nor arn:${partition}:iam::<account>:root`);
      }
    }
    if (r.externalId !== undefined && !EXTERNAL_ID.test(r.externalId))
      throw invalid(`STS role "${r.arn}" has an external id that is not 2 to 1224 characters of [\\w+=,.@:/-]`);
    const max = r.maxSessionDurationSeconds;
    if (max !== undefined && (!Number.isInteger(max) || max < 3600 || max > 43200))
      throw invalid(`STS role "${r.arn}" has max session duration ${max}: use 3600 to 43200 seconds`);
  }
}

/**
 * `--assumable-role` values: `ROLE_ARN[;trust=ARN|ARN...][;external-id=ID][;max-duration=SECONDS]`,
 * several joined by commas (a repeated flag). Without `trust=`, the role trusts `defaultTrusted`.
 */
export function parseStsRoleSpecs(spec: string, defaultTrusted: string): StsRole[] {
  if (spec.length > 256 * 1024) throw invalid('--assumable-role is longer than 256 KiB');
  const out: StsRole[] = [];
  for (const one of spec.split(/,(?=\s*arn:)/)) {
    const [arnPart, ...fields] = one.split(';');
    const arn = (arnPart ?? '').trim();
    let trusted: string[] = [defaultTrusted];
    let externalId: string | undefined;
    let max: number | undefined;
    for (const f of fields) {
      const eq = f.indexOf('=');
      const key = (eq < 0 ? f : f.slice(0, eq)).trim();
      const value = eq < 0 ? '' : f.slice(eq + 1).trim();
      if (key === 'trust')
        trusted = value
          .split('|')
          .map((s) => s.trim())
          .filter((s) => s !== '');
      else if (key === 'external-id') externalId = value;
      else if (key === 'max-duration') {
        if (!/^\d{1,6}$/.test(value)) throw invalid(`--assumable-role ${shown(arn)}: max-duration must be a whole number of seconds, got "${shown(value)}"`);
        max = Number(value);
      } else throw invalid(`--assumable-role ${shown(arn)}: unknown field "${shown(key)}": use trust=, external-id= or max-duration=`);
    }
    out.push({
      arn,
      trustedPrincipals: trusted,
      ...(externalId !== undefined ? { externalId } : {}),
      ...(max !== undefined ? { maxSessionDurationSeconds: max } : {}),
    });
  }
  return out;
}
