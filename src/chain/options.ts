/**
 * Role chaining options (pure): what the sidecar sends to STS AssumeRole after
 * CreateSession, checked against AssumeRole's documented constraints
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html) so a mistake
 * is a one-line error at start-up rather than a refusal at every refresh.
 */
import { SidecarError, oneLine } from '../core/errors.js';

export interface Tag {
  readonly key: string;
  readonly value: string;
}

export interface AssumeRoleOptions {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
  readonly externalId?: string;
  /** Inline session policy (JSON text). */
  readonly policy?: string;
  readonly policyArns: readonly string[];
  readonly sourceIdentity?: string;
  readonly tags: readonly Tag[];
  readonly transitiveTagKeys: readonly string[];
}

export const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\x21-\x7e]{0,511}\/)?[\w+=,.@-]{1,64}$/;
const POLICY_ARN = /^arn:aws(?:-[a-z]+)*:iam::(?:aws|\d{12}):policy\/(?:[\x21-\x7e]{0,511}\/)?[\w+=,.@-]{1,128}$/;
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** Inline and managed session policies together: 2,048 characters of plaintext (IAM quotas). */
export const MAX_POLICY_CHARS = 2048;
export const MAX_POLICY_ARNS = 10;
export const MAX_TAGS = 50;
/** Role chaining: a session assumed with role credentials lasts at most one hour. */
export const CHAINED_MAX_SECONDS = 3600;

function invalid(msg: string): SidecarError {
  return new SidecarError('CONFIG_INVALID', oneLine(msg));
}

/**
 * `--tags k=v,k2=v2`: keys 1..128 and values 0..256 characters of letters, digits, spaces
 * and `_.:/=+-@`; a value may contain `=` (the first one splits). Keys are unique ignoring
 * case, as STS compares them.
 */
export function parseTags(text: string, origin = '--tags'): Tag[] {
  if (text.length > 64 * 1024) throw invalid(`${origin} is longer than 64 KiB`);
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const out: Tag[] = [];
  const seen = new Set<string>();
  for (const part of trimmed.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw invalid(`${origin} entry "${oneLine(part, 60)}" has no "=": write key=value pairs separated by commas`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key.length < 1 || key.length > 128 || !TAG_CHARS.test(key)) {
      throw invalid(`${origin} key "${oneLine(key, 60)}" must be 1 to 128 letters, digits, spaces or _.:/=+-@`);
    }
    if (key.toLowerCase().startsWith('aws:')) throw invalid(`${origin} key "${oneLine(key, 60)}" starts with "aws:", which is reserved for AWS`);
    if (value.length > 256 || !TAG_CHARS.test(value))
      throw invalid(`${origin} value of "${oneLine(key, 60)}" must be at most 256 letters, digits, spaces or _.:/=+-@`);
    if (seen.has(key.toLowerCase())) throw invalid(`${origin} names "${oneLine(key, 60)}" twice (tag keys are case-insensitive)`);
    seen.add(key.toLowerCase());
    out.push({ key, value });
  }
  if (out.length > MAX_TAGS) throw invalid(`${origin} has ${out.length} tags; STS accepts at most ${MAX_TAGS}`);
  return out;
}

/** A comma-separated list, trimmed, empty entries dropped. */
export function parseList(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The default role session name, from the certificate: its CN (or serial), reduced to the
 * characters STS accepts, at most 64. Sessions are then traceable to the workload in
 * CloudTrail without configuring anything.
 */
export function defaultSessionName(commonName: string | undefined, serialHex: string): string {
  const cleaned = (commonName ?? '').replace(/[^\w+=,.@-]+/g, '-').replace(/^-+|-+$/g, '');
  const name = cleaned.length >= 2 ? cleaned : `rolesanywhere-${serialHex.toLowerCase()}`;
  return name.slice(0, 64).replace(/-+$/, '').padEnd(2, '0');
}

export interface AssumeRoleInput {
  readonly roleArn: string;
  readonly sessionName?: string;
  readonly durationSeconds?: number;
  readonly externalId?: string;
  readonly policy?: string;
  readonly policyArns?: readonly string[];
  readonly sourceIdentity?: string;
  readonly tags?: readonly Tag[];
  readonly transitiveTagKeys?: readonly string[];
}

/**
 * Checks the chaining options and fills the defaults; `names` says how each option is
 * spelled where it came from (a flag, or a key of the config file).
 */
export function validateAssumeRole(input: AssumeRoleInput, defaultName: string, names: Readonly<Record<keyof AssumeRoleInput, string>>): AssumeRoleOptions {
  if (!ROLE_ARN.test(input.roleArn) || input.roleArn.length > 2048) {
    throw invalid(`${names.roleArn} "${oneLine(input.roleArn, 100)}" is not a role ARN: expected arn:aws:iam::<account>:role/<name>`);
  }
  const sessionName = input.sessionName ?? defaultName;
  if (!SESSION_NAME.test(sessionName))
    throw invalid(`${names.sessionName} "${oneLine(sessionName, 80)}" must be 2 to 64 characters of letters, digits and +=,.@_-`);
  const durationSeconds = input.durationSeconds ?? CHAINED_MAX_SECONDS;
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > CHAINED_MAX_SECONDS) {
    // Role chaining caps the session at one hour: STS refuses more, so say so now.
    throw invalid(
      `${names.durationSeconds} ${durationSeconds} is outside 900..${CHAINED_MAX_SECONDS}: a role assumed with role credentials (role chaining) lasts at most one hour`,
    );
  }
  if (input.externalId !== undefined && !EXTERNAL_ID.test(input.externalId)) {
    throw invalid(`${names.externalId} must be 2 to 1224 characters of letters, digits and +=,.@:/_-`);
  }
  if (input.sourceIdentity !== undefined && (!SOURCE_IDENTITY.test(input.sourceIdentity) || input.sourceIdentity.toLowerCase().startsWith('aws:'))) {
    throw invalid(
      `${names.sourceIdentity} "${oneLine(input.sourceIdentity, 80)}" must be 2 to 64 characters of letters, digits and +=,.@_-, not starting with "aws:"`,
    );
  }
  const policyArns = [...(input.policyArns ?? [])];
  if (policyArns.length > MAX_POLICY_ARNS) throw invalid(`${names.policyArns} lists ${policyArns.length} policies; STS accepts at most ${MAX_POLICY_ARNS}`);
  for (const a of policyArns) {
    if (!POLICY_ARN.test(a))
      throw invalid(`${names.policyArns} entry "${oneLine(a, 100)}" is not an IAM policy ARN (arn:aws:iam::<account or aws>:policy/<name>)`);
  }
  let policy: string | undefined;
  if (input.policy !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(input.policy);
    } catch (e) {
      throw invalid(`${names.policy} is not valid JSON (${oneLine((e as Error).message, 100)}): give an IAM policy document`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
      throw invalid(`${names.policy} is not an IAM policy document: expected {"Version":"2012-10-17","Statement":[...]}`);
    }
    // Sent minified: the 2,048-character limit counts what is sent.
    policy = JSON.stringify(doc);
    if (policy.length > MAX_POLICY_CHARS) {
      throw invalid(
        `${names.policy} is ${policy.length} characters without spaces; session policies are limited to ${MAX_POLICY_CHARS}: use --policy-arns for larger policies`,
      );
    }
  }
  const tags = [...(input.tags ?? [])];
  const transitiveTagKeys = [...(input.transitiveTagKeys ?? [])];
  if (transitiveTagKeys.length > MAX_TAGS) throw invalid(`${names.transitiveTagKeys} lists more than ${MAX_TAGS} keys`);
  for (const k of transitiveTagKeys) {
    if (!tags.some((t) => t.key.toLowerCase() === k.toLowerCase()))
      throw invalid(`${names.transitiveTagKeys} key "${oneLine(k, 60)}" is not among the tags (${names.tags})`);
  }
  return {
    roleArn: input.roleArn,
    sessionName,
    durationSeconds,
    ...(input.externalId !== undefined ? { externalId: input.externalId } : {}),
    ...(policy !== undefined ? { policy } : {}),
    policyArns,
    ...(input.sourceIdentity !== undefined ? { sourceIdentity: input.sourceIdentity } : {}),
    tags,
    transitiveTagKeys,
  };
}
