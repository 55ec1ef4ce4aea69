/**
 * The emulator's Roles Anywhere state: trust anchors, profiles, CRLs, subjects, tags and
 * notification settings, owned by one emulator (no module-level state). The control plane
 * mutates it; CreateSession reads it through `view()`, an `EmulatorConfig` rebuilt after
 * each change. Limits follow the API reference
 * (https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/) and the service quotas
 * (https://docs.aws.amazon.com/rolesanywhere/latest/userguide/quotas.html).
 */
import { X509Certificate } from 'node:crypto';
import type { Clock, Random } from '../../core/clock.js';
import { isSidecarError } from '../../core/errors.js';
import { parseCaBundle } from '../../identity/ca-bundle.js';
import { fingerprintOf } from '../chain.js';
import {
  DEFAULT_PROFILE_MAX_DURATION_SECONDS,
  MAX_DURATION_SECONDS,
  MIN_DURATION_SECONDS,
  parseRoleArnParts,
  parseRolesAnywhereArn,
  type EmulatorConfig,
  type EmulatorProfile,
  type EmulatorTrustAnchor,
  type Partition,
  type RevocationList,
} from '../config.js';
import { randomUuid, subjectIdFor } from '../issuer.js';
import { crlSigner, parseCrl, type ParsedCrl, MAX_CRL_BYTES } from './crl.js';
import { ControlPlaneError, notFound, shown, validation } from './errors.js';

export type SourceType = 'CERTIFICATE_BUNDLE' | 'AWS_ACM_PCA';
export interface Source {
  readonly sourceType: SourceType;
  readonly sourceData: { readonly x509CertificateData?: string; readonly acmPcaArn?: string };
}
export type NotificationEvent = 'CA_CERTIFICATE_EXPIRY' | 'END_ENTITY_CERTIFICATE_EXPIRY';
export interface NotificationSetting {
  readonly enabled: boolean;
  readonly event: NotificationEvent;
  readonly threshold?: number;
  readonly channel: 'ALL';
  readonly configuredBy?: string;
}
export interface Tag {
  readonly key: string;
  readonly value: string;
}
export type CertificateField = 'x509Subject' | 'x509Issuer' | 'x509SAN';
export interface AttributeMapping {
  readonly certificateField: CertificateField;
  readonly mappingRules: ReadonlyArray<{ readonly specifier: string }>;
}

export interface TrustAnchorRecord {
  readonly trustAnchorId: string;
  readonly trustAnchorArn: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly source: Source;
  readonly notificationSettings: readonly NotificationSetting[];
  readonly createdAt: number;
  readonly updatedAt: number;
}
export interface ProfileRecord {
  readonly profileId: string;
  readonly profileArn: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly roleArns: readonly string[];
  readonly managedPolicyArns: readonly string[];
  readonly sessionPolicy?: string;
  readonly durationSeconds: number;
  readonly acceptRoleSessionName: boolean;
  readonly requireInstanceProperties: boolean;
  readonly attributeMappings: readonly AttributeMapping[];
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}
export interface CrlRecord {
  readonly crlId: string;
  readonly crlArn: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly trustAnchorArn: string;
  /** The CRL as imported (PEM or DER), base64. */
  readonly crlData: string;
  /** SHA-256 of the trust anchor certificate whose key verified the CRL. */
  readonly signerFingerprint: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}
export interface CredentialRecord {
  readonly seenAt: number;
  readonly serialNumber: string;
  readonly issuer: string;
  readonly enabled: boolean;
  readonly failed: boolean;
  readonly x509CertificateData: string;
}
export interface SubjectRecord {
  readonly subjectId: string;
  readonly subjectArn: string;
  readonly x509Subject: string;
  readonly enabled: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastSeenAt: number;
  readonly credentials: readonly CredentialRecord[];
}

/** What `--state FILE` holds. */
export interface StateDocument {
  readonly version: 1;
  readonly accountId: string;
  readonly region: string;
  readonly partition: Partition;
  readonly trustAnchors: readonly TrustAnchorRecord[];
  readonly profiles: readonly ProfileRecord[];
  readonly crls: readonly CrlRecord[];
  readonly subjects: readonly SubjectRecord[];
  readonly tags: Readonly<Record<string, readonly Tag[]>>;
}

export interface TrustAnchorInput {
  readonly name: string;
  readonly enabled?: boolean;
  readonly source: Source;
  readonly notificationSettings?: readonly NotificationSetting[];
  readonly tags?: readonly Tag[];
}
export interface ProfileInput {
  readonly name: string;
  readonly enabled?: boolean;
  readonly roleArns: readonly string[];
  readonly managedPolicyArns?: readonly string[];
  readonly sessionPolicy?: string;
  readonly durationSeconds?: number;
  readonly acceptRoleSessionName?: boolean;
  readonly requireInstanceProperties?: boolean;
  readonly tags?: readonly Tag[];
}
export interface ProfileUpdate {
  readonly name?: string;
  readonly roleArns?: readonly string[];
  readonly managedPolicyArns?: readonly string[];
  readonly sessionPolicy?: string;
  readonly durationSeconds?: number;
  readonly acceptRoleSessionName?: boolean;
}
export interface CrlInput {
  readonly name: string;
  readonly crlData: Buffer;
  readonly trustAnchorArn: string;
  readonly enabled?: boolean;
  readonly tags?: readonly Tag[];
}

/** Service quota: trust anchors per account and region. */
export const MAX_TRUST_ANCHORS = 50;
/** Service quota: CRLs per trust anchor. */
export const MAX_CRLS_PER_TRUST_ANCHOR = 2;
/** Service quota: roles per profile. */
export const MAX_ROLES_PER_PROFILE = 50;
/** Tags per resource (Tag list: at most 200 items). */
export const MAX_TAGS = 200;
/** Bounds of the emulator itself, so one client cannot grow its memory without end. */
export const MAX_PROFILES = 1000;
export const MAX_SUBJECTS = 10_000;
const MAX_CREDENTIALS_PER_SUBJECT = 20;
/** SourceData x509CertificateData: length 1 to 8000. */
export const MAX_CERTIFICATE_DATA_CHARS = 8000;
const NAME = /^[ a-zA-Z0-9_-]{1,255}$/;
const ACM_PCA_ARN = /^arn:aws(?:-[a-z]+)*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[A-Za-z0-9-]{1,128}$/;
const POLICY_ARN = /^arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy\/[\x21-\x7e]{1,1000}$/;
const MAX_SESSION_POLICY_CHARS = 100_000;
const DEFAULT_NOTIFICATIONS: readonly NotificationSetting[] = [
  { enabled: true, event: 'CA_CERTIFICATE_EXPIRY', threshold: 45, channel: 'ALL', configuredBy: 'rolesanywhere.amazonaws.com' },
  { enabled: true, event: 'END_ENTITY_CERTIFICATE_EXPIRY', threshold: 45, channel: 'ALL', configuredBy: 'rolesanywhere.amazonaws.com' },
];

export interface StoreOptions {
  readonly accountId: string;
  readonly region: string;
  readonly partition?: Partition;
  readonly clock: Clock;
  readonly random: Random;
  /** Who `createdBy` names on profiles. */
  readonly principalArn?: string;
  /** Carried into `view()` unchanged. */
  readonly credentialLifetimeSeconds?: number;
  readonly maxClockSkewMs?: number;
}

function checkName(name: string, what: string): void {
  if (!NAME.test(name)) throw validation(`${what} name "${shown(name)}" is invalid: use 1 to 255 letters, digits, spaces, "_" and "-"`);
}

function checkTags(tags: readonly Tag[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.key.length < 1 || t.key.length > 128 || t.value.length > 256) throw validation('a tag key is 1 to 128 characters and a tag value at most 256');
    if (t.key.toLowerCase().startsWith('aws:')) throw validation(`tag key "${shown(t.key)}" uses the reserved prefix aws:`);
    if (seen.has(t.key)) throw validation(`tag key "${shown(t.key)}" is given twice`);
    seen.add(t.key);
  }
}

interface AnchorCache {
  readonly roots: readonly X509Certificate[];
  readonly untrustedReason?: string;
}

export class ControlPlaneStore {
  readonly accountId: string;
  readonly region: string;
  readonly partition: Partition;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly principalArn: string;
  private readonly extras: Pick<EmulatorConfig, 'credentialLifetimeSeconds' | 'maxClockSkewMs'>;
  private readonly anchors = new Map<string, TrustAnchorRecord>();
  private readonly anchorCache = new Map<string, AnchorCache>();
  private readonly profiles = new Map<string, ProfileRecord>();
  private readonly crls = new Map<string, CrlRecord>();
  private readonly crlCache = new Map<string, ParsedCrl>();
  private readonly subjects = new Map<string, SubjectRecord>();
  private readonly tags = new Map<string, readonly Tag[]>();
  private readonly listeners = new Set<() => void>();
  private cachedView: EmulatorConfig | undefined;

  constructor(opts: StoreOptions) {
    this.accountId = opts.accountId;
    this.region = opts.region;
    this.partition = opts.partition ?? 'aws';
    this.clock = opts.clock;
    this.random = opts.random;
    this.principalArn = opts.principalArn ?? `arn:${this.partition}:iam::${opts.accountId}:user/rolesanywhere-emulator-admin`;
    this.extras = {
      ...(opts.credentialLifetimeSeconds !== undefined ? { credentialLifetimeSeconds: opts.credentialLifetimeSeconds } : {}),
      ...(opts.maxClockSkewMs !== undefined ? { maxClockSkewMs: opts.maxClockSkewMs } : {}),
    };
  }

  /** The options of a store for `config`'s account, region and limits. */
  static optionsFor(config: EmulatorConfig, deps: { clock: Clock; random: Random }): StoreOptions {
    return {
      accountId: config.accountId,
      region: config.region,
      ...(config.partition !== undefined ? { partition: config.partition } : {}),
      ...deps,
      ...(config.credentialLifetimeSeconds !== undefined ? { credentialLifetimeSeconds: config.credentialLifetimeSeconds } : {}),
      ...(config.maxClockSkewMs !== undefined ? { maxClockSkewMs: config.maxClockSkewMs } : {}),
    };
  }

  /** A store holding the anchors and profiles of a static config (the `emulator` flags), ids kept. */
  static fromConfig(config: EmulatorConfig, deps: { clock: Clock; random: Random }): ControlPlaneStore {
    const store = new ControlPlaneStore(ControlPlaneStore.optionsFor(config, deps));
    const now = deps.clock.now();
    for (const [i, ta] of config.trustAnchors.entries()) {
      const id = parseRolesAnywhereArn(ta.arn)!.id;
      store.putAnchor({
        trustAnchorId: id,
        trustAnchorArn: ta.arn,
        name: i === 0 ? 'emulator-default' : `emulator-${i}`,
        enabled: ta.enabled !== false,
        source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: ta.roots.map((r) => r.toString()).join('') } },
        notificationSettings: DEFAULT_NOTIFICATIONS,
        createdAt: now,
        updatedAt: now,
      });
    }
    for (const [i, pr] of config.profiles.entries()) {
      const id = parseRolesAnywhereArn(pr.arn)!.id;
      store.profiles.set(id, {
        profileId: id,
        profileArn: pr.arn,
        name: i === 0 ? 'emulator-default' : `emulator-${i}`,
        enabled: pr.enabled !== false,
        roleArns: [...pr.roleArns],
        managedPolicyArns: [],
        durationSeconds: pr.maxDurationSeconds ?? DEFAULT_PROFILE_MAX_DURATION_SECONDS,
        acceptRoleSessionName: pr.acceptRoleSessionName === true,
        requireInstanceProperties: false,
        attributeMappings: [],
        createdBy: store.principalArn,
        createdAt: now,
        updatedAt: now,
      });
    }
    return store;
  }

  /** Rebuilds a store from a `--state` document (already parsed JSON, checked here). */
  static fromDocument(doc: unknown, opts: StoreOptions): ControlPlaneStore {
    const d = doc as Partial<StateDocument> | null;
    if (
      typeof d !== 'object' ||
      d === null ||
      d.version !== 1 ||
      !Array.isArray(d.trustAnchors) ||
      !Array.isArray(d.profiles) ||
      !Array.isArray(d.crls) ||
      !Array.isArray(d.subjects)
    ) {
      throw validation('the state file is not an emulator state document (version 1)');
    }
    if (d.accountId !== opts.accountId || d.region !== opts.region) {
      throw validation(`the state file is for account ${String(d.accountId)} in ${String(d.region)}, not ${opts.accountId} in ${opts.region}`);
    }
    const store = new ControlPlaneStore(opts);
    for (const a of d.trustAnchors as readonly TrustAnchorRecord[]) store.putAnchor(a);
    for (const p of d.profiles as readonly ProfileRecord[]) store.profiles.set(p.profileId, p);
    for (const c of d.crls as readonly CrlRecord[]) {
      const parsed = parseCrl(Buffer.from(c.crlData, 'base64'));
      if (parsed === undefined) throw validation(`CRL ${shown(c.crlId)} in the state file does not parse`);
      store.crls.set(c.crlId, c);
      store.crlCache.set(c.crlId, parsed);
    }
    for (const s of d.subjects as readonly SubjectRecord[]) store.subjects.set(s.subjectId, s);
    for (const [arn, list] of Object.entries(d.tags ?? {})) store.tags.set(arn, list);
    return store;
  }

  toDocument(): StateDocument {
    return {
      version: 1,
      accountId: this.accountId,
      region: this.region,
      partition: this.partition,
      trustAnchors: [...this.anchors.values()],
      profiles: [...this.profiles.values()],
      crls: [...this.crls.values()],
      subjects: [...this.subjects.values()],
      tags: Object.fromEntries(this.tags),
    };
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `viewAffected` false for changes CreateSession does not read (subjects). */
  private changed(viewAffected = true): void {
    if (viewAffected) this.cachedView = undefined;
    for (const l of this.listeners) l();
  }

  private arn(type: string, id: string): string {
    return `arn:${this.partition}:rolesanywhere:${this.region}:${this.accountId}:${type}/${id}`;
  }

  // ---- trust anchors ----

  private parseSource(source: Source): AnchorCache {
    const data = source.sourceData;
    const keys = Object.keys(data).filter((k) => (data as Record<string, unknown>)[k] !== undefined);
    if (keys.length !== 1) throw validation('sourceData must hold exactly one of x509CertificateData and acmPcaArn');
    if (data.acmPcaArn !== undefined) {
      if (source.sourceType !== 'AWS_ACM_PCA') throw validation('acmPcaArn goes with sourceType AWS_ACM_PCA');
      if (!ACM_PCA_ARN.test(data.acmPcaArn)) throw validation(`acmPcaArn "${shown(data.acmPcaArn)}" is not an AWS Private CA ARN`);
      return {
        roots: [],
        untrustedReason: 'its source is an AWS Private CA, which the emulator cannot reach: give the CA certificate as x509CertificateData instead',
      };
    }
    const pem = data.x509CertificateData!;
    if (pem.length < 1 || pem.length > MAX_CERTIFICATE_DATA_CHARS)
      throw validation(`x509CertificateData must be 1 to ${MAX_CERTIFICATE_DATA_CHARS} characters`);
    let roots: X509Certificate[];
    try {
      roots = parseCaBundle(pem, 'x509CertificateData');
    } catch (e) {
      throw validation(isSidecarError(e) ? e.message : 'x509CertificateData is not a PEM certificate');
    }
    for (const r of roots) {
      if (!r.ca)
        throw validation("x509CertificateData holds a certificate that is not a CA (basicConstraints cA is not set): give the issuing CA's certificate");
    }
    return { roots };
  }

  private putAnchor(rec: TrustAnchorRecord): void {
    this.anchorCache.set(rec.trustAnchorId, this.parseSource(rec.source));
    this.anchors.set(rec.trustAnchorId, rec);
  }

  createTrustAnchor(input: TrustAnchorInput): TrustAnchorRecord {
    checkName(input.name, 'trust anchor');
    checkTags(input.tags ?? []);
    if ((input.tags ?? []).length > MAX_TAGS) throw new ControlPlaneError(400, 'TooManyTagsException', `at most ${MAX_TAGS} tags per resource`);
    if (this.anchors.size >= MAX_TRUST_ANCHORS)
      throw validation(`the account already has ${MAX_TRUST_ANCHORS} trust anchors, the service quota: delete one first`);
    const id = randomUuid(this.random);
    const now = this.clock.now();
    const rec: TrustAnchorRecord = {
      trustAnchorId: id,
      trustAnchorArn: this.arn('trust-anchor', id),
      name: input.name,
      enabled: input.enabled === true,
      source: input.source,
      notificationSettings: mergeNotifications(DEFAULT_NOTIFICATIONS, input.notificationSettings ?? []),
      createdAt: now,
      updatedAt: now,
    };
    this.putAnchor(rec);
    if (input.tags !== undefined && input.tags.length > 0) this.tags.set(rec.trustAnchorArn, input.tags);
    this.changed();
    return rec;
  }

  getTrustAnchor(id: string): TrustAnchorRecord {
    const a = this.anchors.get(id);
    if (a === undefined) throw notFound(`trust anchor ${shown(id)} does not exist`);
    return a;
  }

  trustAnchorByArn(arn: string): TrustAnchorRecord | undefined {
    const p = parseRolesAnywhereArn(arn);
    if (p === undefined || p.type !== 'trust-anchor') return undefined;
    const a = this.anchors.get(p.id);
    return a?.trustAnchorArn === arn ? a : undefined;
  }

  listTrustAnchors(): TrustAnchorRecord[] {
    return [...this.anchors.values()];
  }

  updateTrustAnchor(id: string, update: { name?: string; source?: Source }): TrustAnchorRecord {
    const a = this.getTrustAnchor(id);
    if (update.name !== undefined) checkName(update.name, 'trust anchor');
    const next: TrustAnchorRecord = {
      ...a,
      ...(update.name !== undefined ? { name: update.name } : {}),
      ...(update.source !== undefined ? { source: update.source } : {}),
      updatedAt: this.clock.now(),
    };
    this.putAnchor(next);
    this.changed();
    return next;
  }

  setTrustAnchorEnabled(id: string, enabled: boolean): TrustAnchorRecord {
    const a = this.getTrustAnchor(id);
    const next = { ...a, enabled, updatedAt: this.clock.now() };
    this.anchors.set(id, next);
    this.changed();
    return next;
  }

  deleteTrustAnchor(id: string): TrustAnchorRecord {
    const a = this.getTrustAnchor(id);
    this.anchors.delete(id);
    this.anchorCache.delete(id);
    this.tags.delete(a.trustAnchorArn);
    // The anchor's CRLs provide revocation for it alone: they go with it.
    for (const c of [...this.crls.values()]) {
      if (c.trustAnchorArn === a.trustAnchorArn) {
        this.crls.delete(c.crlId);
        this.crlCache.delete(c.crlId);
        this.tags.delete(c.crlArn);
      }
    }
    this.changed();
    return a;
  }

  putNotificationSettings(id: string, settings: readonly NotificationSetting[]): TrustAnchorRecord {
    const a = this.getTrustAnchor(id);
    const next = { ...a, notificationSettings: mergeNotifications(a.notificationSettings, settings), updatedAt: this.clock.now() };
    this.anchors.set(id, next);
    this.changed();
    return next;
  }

  resetNotificationSettings(id: string, keys: ReadonlyArray<{ event: NotificationEvent }>): TrustAnchorRecord {
    const a = this.getTrustAnchor(id);
    const reset = new Set(keys.map((k) => k.event));
    const next = {
      ...a,
      notificationSettings: a.notificationSettings.map((s) => (reset.has(s.event) ? DEFAULT_NOTIFICATIONS.find((d) => d.event === s.event)! : s)),
      updatedAt: this.clock.now(),
    };
    this.anchors.set(id, next);
    this.changed();
    return next;
  }

  // ---- profiles ----

  private checkProfileFields(p: ProfileUpdate): void {
    if (p.name !== undefined) checkName(p.name, 'profile');
    if (p.roleArns !== undefined) {
      if (p.roleArns.length > MAX_ROLES_PER_PROFILE)
        throw validation(`a profile takes at most ${MAX_ROLES_PER_PROFILE} roles (the service quota); got ${p.roleArns.length}`);
      for (const r of p.roleArns) {
        const parts = parseRoleArnParts(r);
        if (parts === undefined) throw validation(`role ARN "${shown(r)}" is malformed: expected arn:aws:iam::<account>:role/<name>`);
        if (parts.accountId !== this.accountId)
          throw validation(`role "${shown(r)}" is in another account than ${this.accountId}: a profile's roles must be in its own account`);
      }
    }
    if (p.managedPolicyArns !== undefined) {
      if (p.managedPolicyArns.length > 50) throw validation('a profile takes at most 50 managed policy ARNs');
      for (const m of p.managedPolicyArns)
        if (!POLICY_ARN.test(m)) throw validation(`managed policy ARN "${shown(m)}" is malformed: expected arn:aws:iam::<account>:policy/<name>`);
    }
    if (p.sessionPolicy !== undefined) {
      if (p.sessionPolicy.length > MAX_SESSION_POLICY_CHARS) throw validation(`sessionPolicy is longer than ${MAX_SESSION_POLICY_CHARS} characters`);
      let doc: unknown;
      try {
        doc = JSON.parse(p.sessionPolicy);
      } catch {
        throw validation('sessionPolicy is not a JSON policy document');
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw validation('sessionPolicy must be a JSON object (a policy document)');
    }
    if (
      p.durationSeconds !== undefined &&
      (!Number.isInteger(p.durationSeconds) || p.durationSeconds < MIN_DURATION_SECONDS || p.durationSeconds > MAX_DURATION_SECONDS)
    ) {
      throw validation(`durationSeconds ${p.durationSeconds} is out of range: use ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`);
    }
  }

  createProfile(input: ProfileInput): ProfileRecord {
    this.checkProfileFields(input);
    checkTags(input.tags ?? []);
    if ((input.tags ?? []).length > MAX_TAGS) throw new ControlPlaneError(400, 'TooManyTagsException', `at most ${MAX_TAGS} tags per resource`);
    if (this.profiles.size >= MAX_PROFILES) throw validation(`the emulator holds at most ${MAX_PROFILES} profiles`);
    const id = randomUuid(this.random);
    const now = this.clock.now();
    const rec: ProfileRecord = {
      profileId: id,
      profileArn: this.arn('profile', id),
      name: input.name,
      enabled: input.enabled === true,
      roleArns: [...input.roleArns],
      managedPolicyArns: [...(input.managedPolicyArns ?? [])],
      ...(input.sessionPolicy !== undefined ? { sessionPolicy: input.sessionPolicy } : {}),
      durationSeconds: input.durationSeconds ?? DEFAULT_PROFILE_MAX_DURATION_SECONDS,
      acceptRoleSessionName: input.acceptRoleSessionName === true,
      requireInstanceProperties: input.requireInstanceProperties === true,
      attributeMappings: defaultMappings(),
      createdBy: this.principalArn,
      createdAt: now,
      updatedAt: now,
    };
    this.profiles.set(id, rec);
    if (input.tags !== undefined && input.tags.length > 0) this.tags.set(rec.profileArn, input.tags);
    this.changed();
    return rec;
  }

  getProfile(id: string): ProfileRecord {
    const p = this.profiles.get(id);
    if (p === undefined) throw notFound(`profile ${shown(id)} does not exist`);
    return p;
  }

  listProfiles(): ProfileRecord[] {
    return [...this.profiles.values()];
  }

  updateProfile(id: string, update: ProfileUpdate): ProfileRecord {
    const p = this.getProfile(id);
    this.checkProfileFields(update);
    const defined = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)) as ProfileUpdate;
    const next: ProfileRecord = { ...p, ...defined, updatedAt: this.clock.now() };
    this.profiles.set(id, next);
    this.changed();
    return next;
  }

  setProfileEnabled(id: string, enabled: boolean): ProfileRecord {
    const next = { ...this.getProfile(id), enabled, updatedAt: this.clock.now() };
    this.profiles.set(id, next);
    this.changed();
    return next;
  }

  deleteProfile(id: string): ProfileRecord {
    const p = this.getProfile(id);
    this.profiles.delete(id);
    this.tags.delete(p.profileArn);
    this.changed();
    return p;
  }

  putAttributeMapping(id: string, mapping: AttributeMapping): ProfileRecord {
    const p = this.getProfile(id);
    if (mapping.mappingRules.length > 50) throw validation('at most 50 mapping rules per certificate field');
    for (const r of mapping.mappingRules)
      if (r.specifier.length < 1 || r.specifier.length > 60) throw validation('a mapping rule specifier is 1 to 60 characters');
    const others = p.attributeMappings.filter((m) => m.certificateField !== mapping.certificateField);
    const next = { ...p, attributeMappings: [...others, mapping], updatedAt: this.clock.now() };
    this.profiles.set(id, next);
    this.changed();
    return next;
  }

  deleteAttributeMapping(id: string, field: CertificateField, specifiers: readonly string[]): ProfileRecord {
    const p = this.getProfile(id);
    const drop = new Set(specifiers);
    const attributeMappings = p.attributeMappings.flatMap((m) => {
      if (m.certificateField !== field) return [m];
      if (drop.size === 0) return [];
      return [{ ...m, mappingRules: m.mappingRules.filter((r) => !drop.has(r.specifier)) }];
    });
    const next = { ...p, attributeMappings, updatedAt: this.clock.now() };
    this.profiles.set(id, next);
    this.changed();
    return next;
  }

  // ---- CRLs ----

  private async verifiedCrl(data: Buffer, anchor: TrustAnchorRecord): Promise<{ parsed: ParsedCrl; signer: string }> {
    if (data.length < 1 || data.length > MAX_CRL_BYTES)
      throw validation(`crlData must be 1 to ${MAX_CRL_BYTES} bytes (the service's limit); got ${data.length}`);
    const parsed = parseCrl(data);
    if (parsed === undefined) throw validation('crlData is not an X.509 CRL (PEM "BEGIN X509 CRL" or DER)');
    const signer = await crlSigner(parsed, this.anchorCache.get(anchor.trustAnchorId)?.roots ?? []);
    if (signer === undefined) {
      throw validation(
        `the CRL (issuer ${shown(parsed.crl.issuer, 160)}) is not signed by a CA certificate of trust anchor ${anchor.trustAnchorArn}: import the CRL its CA issued`,
      );
    }
    return { parsed, signer: fingerprintOf(signer) };
  }

  async importCrl(input: CrlInput): Promise<CrlRecord> {
    checkName(input.name, 'CRL');
    checkTags(input.tags ?? []);
    if ((input.tags ?? []).length > MAX_TAGS) throw new ControlPlaneError(400, 'TooManyTagsException', `at most ${MAX_TAGS} tags per resource`);
    const anchor = this.trustAnchorByArn(input.trustAnchorArn);
    if (anchor === undefined) throw notFound(`trust anchor ${shown(input.trustAnchorArn, 160)} does not exist`);
    const count = [...this.crls.values()].filter((c) => c.trustAnchorArn === anchor.trustAnchorArn).length;
    if (count >= MAX_CRLS_PER_TRUST_ANCHOR) {
      throw validation(
        `trust anchor ${anchor.trustAnchorArn} already has ${count} CRLs, the service quota of ${MAX_CRLS_PER_TRUST_ANCHOR} per trust anchor: delete or update one`,
      );
    }
    const { parsed, signer } = await this.verifiedCrl(input.crlData, anchor);
    const id = randomUuid(this.random);
    const now = this.clock.now();
    const rec: CrlRecord = {
      crlId: id,
      crlArn: this.arn('crl', id),
      name: input.name,
      enabled: input.enabled === true,
      trustAnchorArn: anchor.trustAnchorArn,
      crlData: input.crlData.toString('base64'),
      signerFingerprint: signer,
      createdAt: now,
      updatedAt: now,
    };
    this.crls.set(id, rec);
    this.crlCache.set(id, parsed);
    if (input.tags !== undefined && input.tags.length > 0) this.tags.set(rec.crlArn, input.tags);
    this.changed();
    return rec;
  }

  getCrl(id: string): CrlRecord {
    const c = this.crls.get(id);
    if (c === undefined) throw notFound(`CRL ${shown(id)} does not exist`);
    return c;
  }

  listCrls(): CrlRecord[] {
    return [...this.crls.values()];
  }

  async updateCrl(id: string, update: { name?: string; crlData?: Buffer }): Promise<CrlRecord> {
    const c = this.getCrl(id);
    if (update.name !== undefined) checkName(update.name, 'CRL');
    let next: CrlRecord = { ...c, ...(update.name !== undefined ? { name: update.name } : {}), updatedAt: this.clock.now() };
    if (update.crlData !== undefined) {
      const anchor = this.trustAnchorByArn(c.trustAnchorArn);
      if (anchor === undefined) throw notFound(`the CRL's trust anchor ${c.trustAnchorArn} no longer exists`);
      const { parsed, signer } = await this.verifiedCrl(update.crlData, anchor);
      next = { ...next, crlData: update.crlData.toString('base64'), signerFingerprint: signer };
      this.crlCache.set(id, parsed);
    }
    this.crls.set(id, next);
    this.changed();
    return next;
  }

  setCrlEnabled(id: string, enabled: boolean): CrlRecord {
    const next = { ...this.getCrl(id), enabled, updatedAt: this.clock.now() };
    this.crls.set(id, next);
    this.changed();
    return next;
  }

  deleteCrl(id: string): CrlRecord {
    const c = this.getCrl(id);
    this.crls.delete(id);
    this.crlCache.delete(id);
    this.tags.delete(c.crlArn);
    this.changed();
    return c;
  }

  // ---- subjects ----

  /** Records a certificate that obtained a session (CreateSession succeeded). */
  recordSubject(trustAnchorArn: string, leaf: X509Certificate, nowMs: number): SubjectRecord {
    const id = subjectIdFor(trustAnchorArn, leaf);
    const x509Subject = leaf.subject.split('\n').join(',');
    const cred: CredentialRecord = {
      seenAt: nowMs,
      serialNumber: leaf.serialNumber.toLowerCase(),
      issuer: leaf.issuer.split('\n').join(','),
      enabled: true,
      failed: false,
      x509CertificateData: leaf.toString(),
    };
    const prev = this.subjects.get(id);
    const credentials = [cred, ...(prev?.credentials ?? []).filter((c) => c.serialNumber !== cred.serialNumber)].slice(0, MAX_CREDENTIALS_PER_SUBJECT);
    const rec: SubjectRecord = {
      subjectId: id,
      subjectArn: this.arn('subject', id),
      x509Subject,
      enabled: true,
      createdAt: prev?.createdAt ?? nowMs,
      updatedAt: nowMs,
      lastSeenAt: nowMs,
      credentials,
    };
    this.subjects.delete(id);
    this.subjects.set(id, rec);
    while (this.subjects.size > MAX_SUBJECTS) {
      const oldest = this.subjects.keys().next().value;
      if (oldest === undefined) break;
      this.subjects.delete(oldest);
    }
    this.changed(false);
    return rec;
  }

  getSubject(id: string): SubjectRecord {
    const s = this.subjects.get(id);
    if (s === undefined) throw notFound(`subject ${shown(id)} does not exist`);
    return s;
  }

  listSubjects(): SubjectRecord[] {
    return [...this.subjects.values()];
  }

  // ---- tags ----

  private requireResource(arn: string): void {
    const known =
      [...this.anchors.values()].some((a) => a.trustAnchorArn === arn) ||
      [...this.profiles.values()].some((p) => p.profileArn === arn) ||
      [...this.crls.values()].some((c) => c.crlArn === arn);
    if (!known) throw notFound(`resource ${shown(arn, 160)} does not exist`);
  }

  listTags(arn: string): readonly Tag[] {
    this.requireResource(arn);
    return this.tags.get(arn) ?? [];
  }

  tagResource(arn: string, tags: readonly Tag[]): void {
    this.requireResource(arn);
    checkTags(tags);
    const merged = new Map((this.tags.get(arn) ?? []).map((t) => [t.key, t]));
    for (const t of tags) merged.set(t.key, t);
    if (merged.size > MAX_TAGS) throw new ControlPlaneError(400, 'TooManyTagsException', `resource ${arn} would have ${merged.size} tags; at most ${MAX_TAGS}`);
    this.tags.set(arn, [...merged.values()]);
    this.changed();
  }

  untagResource(arn: string, keys: readonly string[]): void {
    this.requireResource(arn);
    const drop = new Set(keys);
    this.tags.set(
      arn,
      (this.tags.get(arn) ?? []).filter((t) => !drop.has(t.key)),
    );
    this.changed();
  }

  // ---- the data plane's view ----

  /** The state as the CreateSession verifier reads it; rebuilt only after a change. */
  view(): EmulatorConfig {
    if (this.cachedView !== undefined) return this.cachedView;
    const trustAnchors: EmulatorTrustAnchor[] = [...this.anchors.values()].map((a) => {
      const cache = this.anchorCache.get(a.trustAnchorId) ?? { roots: [] };
      const rootPrints = new Set(cache.roots.map(fingerprintOf));
      const crls: RevocationList[] = [];
      for (const c of this.crls.values()) {
        const parsed = this.crlCache.get(c.crlId);
        // A CRL counts while enabled and while the CA that signed it is still in the bundle.
        if (c.trustAnchorArn !== a.trustAnchorArn || !c.enabled || parsed === undefined || !rootPrints.has(c.signerFingerprint)) continue;
        crls.push({ crlArn: c.crlArn, name: c.name, issuerDerHex: parsed.issuerDerHex, revokedSerials: parsed.revokedSerials });
      }
      return {
        arn: a.trustAnchorArn,
        roots: cache.roots,
        enabled: a.enabled,
        crls,
        ...(cache.untrustedReason !== undefined ? { untrustedReason: cache.untrustedReason } : {}),
      };
    });
    const profiles: EmulatorProfile[] = [...this.profiles.values()].map((p) => ({
      arn: p.profileArn,
      roleArns: p.roleArns,
      maxDurationSeconds: p.durationSeconds,
      enabled: p.enabled,
      acceptRoleSessionName: p.acceptRoleSessionName,
    }));
    this.cachedView = { accountId: this.accountId, region: this.region, partition: this.partition, trustAnchors, profiles, ...this.extras };
    return this.cachedView;
  }
}

function mergeNotifications(base: readonly NotificationSetting[], updates: readonly NotificationSetting[]): NotificationSetting[] {
  const out = new Map(base.map((s) => [s.event, s]));
  for (const u of updates) out.set(u.event, { ...u, channel: 'ALL', configuredBy: 'customer' });
  return [...out.values()];
}

/** The service's default attribute mappings: every field of subject, issuer and SAN. */
function defaultMappings(): AttributeMapping[] {
  return [
    { certificateField: 'x509Subject', mappingRules: ['CN', 'OU', 'O', 'C', 'ST', 'L'].map((specifier) => ({ specifier })) },
    { certificateField: 'x509Issuer', mappingRules: ['CN', 'OU', 'O', 'C', 'ST', 'L'].map((specifier) => ({ specifier })) },
    { certificateField: 'x509SAN', mappingRules: ['DNS', 'URI', 'Name'].map((specifier) => ({ specifier })) },
  ];
}
