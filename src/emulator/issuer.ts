/**
 * Minting temporary credentials for a verified CreateSession, and remembering them so the
 * emulated STS can authenticate requests signed with them. Shapes follow the service:
 * `ASIA` + 16 upper-case alphanumerics, a 40-character secret, an opaque session token.
 */
import { createHash } from 'node:crypto';
import type { Random } from '../core/clock.js';
import { isoSeconds } from '../core/clock.js';
import { parseRoleArnParts, type EmulatorConfig } from './config.js';
import type { VerifiedSession } from './verifier.js';

/** What tests may read about an issued session: everything except the secret and the token. */
export interface IssuedRecord {
  readonly accessKeyId: string;
  readonly roleArn: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>` */
  readonly assumedRoleArn: string;
  readonly sessionName: string;
  readonly issuedAt: number;
  /** Epoch ms. */
  readonly expiration: number;
  /** Serial number (decimal) of the certificate that signed the CreateSession. */
  readonly serialDecimal: string;
  /** SHA-256 of that certificate's DER, hex. */
  readonly fingerprint: string;
  readonly profileArn: string;
  readonly trustAnchorArn: string;
  /** `rolesanywhere` for CreateSession, `assume-role` for a session chained through STS AssumeRole. */
  readonly kind: 'rolesanywhere' | 'assume-role';
  readonly sourceIdentity?: string;
  /** AssumeRole only: the role whose session assumed this one, and whether an external id was sent. */
  readonly sourceRoleArn?: string;
  readonly externalIdUsed?: boolean;
  readonly tags?: Readonly<Record<string, string>>;
  readonly transitiveTags?: Readonly<Record<string, string>>;
  readonly policyArns?: readonly string[];
  readonly hasSessionPolicy?: boolean;
}

/** The secret half, kept only in the emulator's memory for STS. */
export interface IssuedSecret extends IssuedRecord {
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly assumedRoleId: string;
  readonly accountId: string;
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Unbiased: 256 is not a multiple of the alphabet sizes, so bytes above the last full block are skipped. */
export function randomString(random: Random, alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const b of random.bytes(length * 2)) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export function randomUuid(random: Random): string {
  const b = Buffer.from(random.bytes(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A stable UUID-shaped id derived from `input`, so the same subject always gets the same subjectArn. */
function stableUuid(input: string): string {
  const h = createHash('sha256').update(input).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The subject id the service reports for a certificate seen through a trust anchor (stable across sessions). */
export function subjectIdFor(trustAnchorArn: string, leaf: { readonly subject: string; readonly issuer: string }): string {
  return stableUuid(`${trustAnchorArn}|${leaf.subject}|${leaf.issuer}`);
}

/** IAM role ids are `AROA` + 17 upper-case alphanumerics; derived from the ARN so they are stable. */
export function roleId(roleArn: string): string {
  const digest = createHash('sha256').update(roleArn).digest();
  let out = 'AROA';
  for (let i = 0; out.length < 21; i++) out += UPPER_ALNUM[digest[i]! % UPPER_ALNUM.length];
  return out;
}

/** The leaf's CN as the service reports it in sourceIdentity (`CN=...`), else its whole subject. */
export function sourceIdentityOf(subject: string): string {
  const cn = subject.split('\n').find((l) => l.startsWith('CN='));
  return cn ?? subject.split('\n').join(',');
}

/** `ASIA` + 16 upper-case alphanumerics, as STS issues temporary access key ids. */
export function mintAccessKeyId(random: Random): string {
  return `ASIA${randomString(random, UPPER_ALNUM, 16)}`;
}

export function mintSecretAccessKey(random: Random): string {
  return randomString(random, SECRET_ALPHABET, 40);
}

/** Real STS tokens are several hundred base64 characters; clients must not assume a length. */
export function mintSessionToken(random: Random): string {
  return `IQoJb3JpZ2luX2Vj${random.bytes(600).toString('base64')}`;
}

export interface IssueResult {
  readonly secret: IssuedSecret;
  /** The 201 body, as the service sends it. */
  readonly body: string;
}

export function issueSession(v: VerifiedSession, config: EmulatorConfig, nowMs: number, random: Random): IssueResult {
  const partition = config.partition ?? 'aws';
  const role = parseRoleArnParts(v.params.roleArn);
  const roleName = role?.roleName ?? 'role';
  // The service names the session after the certificate serial (hex) unless the caller picks a name.
  const sessionName = v.params.roleSessionName ?? v.serialHex;
  const lifetime = Math.min(v.params.durationSeconds, config.credentialLifetimeSeconds ?? Number.POSITIVE_INFINITY);
  // Whole seconds, like the service; the wire form has no fraction either.
  const expiration = Math.floor(nowMs / 1000) * 1000 + lifetime * 1000;
  const assumedRoleArn = `arn:${partition}:sts::${config.accountId}:assumed-role/${roleName}/${sessionName}`;
  const assumedRoleId = `${roleId(v.params.roleArn)}:${sessionName}`;
  const secret: IssuedSecret = {
    accessKeyId: mintAccessKeyId(random),
    secretAccessKey: mintSecretAccessKey(random),
    sessionToken: mintSessionToken(random),
    roleArn: v.params.roleArn,
    assumedRoleArn,
    assumedRoleId,
    accountId: config.accountId,
    sessionName,
    issuedAt: nowMs,
    expiration,
    serialDecimal: v.serialDecimal,
    fingerprint: v.fingerprint,
    profileArn: v.params.profileArn,
    trustAnchorArn: v.params.trustAnchorArn,
    kind: 'rolesanywhere',
    sourceIdentity: sourceIdentityOf(v.leaf.subject),
  };
  const subjectArn = `arn:${partition}:rolesanywhere:${config.region}:${config.accountId}:subject/${subjectIdFor(v.params.trustAnchorArn, v.leaf)}`;
  const body = JSON.stringify({
    credentialSet: [
      {
        assumedRoleUser: { arn: assumedRoleArn, assumedRoleId },
        credentials: {
          accessKeyId: secret.accessKeyId,
          secretAccessKey: secret.secretAccessKey,
          sessionToken: secret.sessionToken,
          expiration: isoSeconds(expiration),
        },
        packedPolicySize: 0,
        roleArn: v.params.roleArn,
        sourceIdentity: sourceIdentityOf(v.leaf.subject),
      },
    ],
    subjectArn,
  });
  return { secret, body };
}

export function publicRecord(s: IssuedSecret): IssuedRecord {
  return {
    accessKeyId: s.accessKeyId,
    roleArn: s.roleArn,
    assumedRoleArn: s.assumedRoleArn,
    sessionName: s.sessionName,
    issuedAt: s.issuedAt,
    expiration: s.expiration,
    serialDecimal: s.serialDecimal,
    fingerprint: s.fingerprint,
    profileArn: s.profileArn,
    trustAnchorArn: s.trustAnchorArn,
    kind: s.kind,
    ...(s.sourceIdentity !== undefined ? { sourceIdentity: s.sourceIdentity } : {}),
    ...(s.sourceRoleArn !== undefined ? { sourceRoleArn: s.sourceRoleArn } : {}),
    ...(s.externalIdUsed !== undefined ? { externalIdUsed: s.externalIdUsed } : {}),
    ...(s.tags !== undefined ? { tags: s.tags } : {}),
    ...(s.transitiveTags !== undefined ? { transitiveTags: s.transitiveTags } : {}),
    ...(s.policyArns !== undefined ? { policyArns: s.policyArns } : {}),
    ...(s.hasSessionPolicy !== undefined ? { hasSessionPolicy: s.hasSessionPolicy } : {}),
  };
}

/** Remembers the last `capacity` issued sessions (oldest forgotten first), keyed by access key id. */
export class IssuedStore {
  private readonly byKey = new Map<string, IssuedSecret>();
  constructor(private readonly capacity = 10_000) {}

  add(s: IssuedSecret): void {
    this.byKey.set(s.accessKeyId, s);
    while (this.byKey.size > this.capacity) {
      const oldest = this.byKey.keys().next().value;
      if (oldest === undefined) break;
      this.byKey.delete(oldest);
    }
  }

  get(accessKeyId: string): IssuedSecret | undefined {
    return this.byKey.get(accessKeyId);
  }

  records(): IssuedRecord[] {
    return [...this.byKey.values()].map(publicRecord);
  }

  get size(): number {
    return this.byKey.size;
  }
}
