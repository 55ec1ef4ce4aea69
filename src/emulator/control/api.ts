/**
 * The Roles Anywhere control plane's REST-JSON protocol: routes, request parsing and
 * response shapes as the API reference and the generated clients define them
 * (https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/; paths and status codes
 * as in `@aws-sdk/client-rolesanywhere`'s `protocols/Aws_restJson1`): resource ids (not
 * ARNs) in paths, blobs (`crlData`) as base64, timestamps as RFC 3339 strings, errors as
 * `X-Amzn-ErrorType` plus `{"message"}`. Pure apart from the store it mutates.
 */
import { ControlPlaneError, shown, validation } from './errors.js';
import type {
  AttributeMapping,
  CertificateField,
  ControlPlaneStore,
  CrlRecord,
  NotificationEvent,
  NotificationSetting,
  ProfileRecord,
  Source,
  SubjectRecord,
  Tag,
  TrustAnchorRecord,
} from './store.js';

/** A control-plane body: a CRL of 300,000 bytes is 400,000 base64 characters, plus the rest. */
export const MAX_CONTROL_BODY_BYTES = 512 * 1024;
const MAX_QUERY_PARAMS = 16;
const MAX_QUERY_VALUE_CHARS = 10_000;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 100;
const UUID = /^[a-f0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12}$/;
const MAX_STRING_CHARS = 200_000;

export interface ControlRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly body: Buffer;
}

export interface ControlResponse {
  readonly status: number;
  readonly body: unknown;
  readonly operation: string;
  /** Set on errors: the `X-Amzn-ErrorType` value. */
  readonly errorType?: string;
}

type Json = Record<string, unknown>;
type HandlerResult = { status?: number; body: unknown };
type Handler = (store: ControlPlaneStore, id: string, body: Json, query: URLSearchParams) => HandlerResult | Promise<HandlerResult>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly operation: string;
  readonly handler: Handler;
}

// ---- renderers (the service's detail shapes) ----

const iso = (ms: number): string => new Date(ms).toISOString();

export function trustAnchorOut(a: TrustAnchorRecord): Json {
  return {
    trustAnchorId: a.trustAnchorId,
    trustAnchorArn: a.trustAnchorArn,
    name: a.name,
    enabled: a.enabled,
    source: a.source,
    notificationSettings: a.notificationSettings,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

export function profileOut(p: ProfileRecord): Json {
  return {
    profileId: p.profileId,
    profileArn: p.profileArn,
    name: p.name,
    enabled: p.enabled,
    roleArns: p.roleArns,
    managedPolicyArns: p.managedPolicyArns,
    ...(p.sessionPolicy !== undefined ? { sessionPolicy: p.sessionPolicy } : {}),
    durationSeconds: p.durationSeconds,
    acceptRoleSessionName: p.acceptRoleSessionName,
    requireInstanceProperties: p.requireInstanceProperties,
    attributeMappings: p.attributeMappings,
    createdBy: p.createdBy,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
  };
}

export function crlOut(c: CrlRecord): Json {
  return {
    crlId: c.crlId,
    crlArn: c.crlArn,
    name: c.name,
    enabled: c.enabled,
    trustAnchorArn: c.trustAnchorArn,
    crlData: c.crlData,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

function subjectSummary(s: SubjectRecord): Json {
  return {
    subjectId: s.subjectId,
    subjectArn: s.subjectArn,
    x509Subject: s.x509Subject,
    enabled: s.enabled,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    lastSeenAt: iso(s.lastSeenAt),
  };
}

function subjectOut(s: SubjectRecord): Json {
  return {
    ...subjectSummary(s),
    credentials: s.credentials.map((c) => ({ ...c, seenAt: iso(c.seenAt) })),
    instanceProperties: [],
  };
}

// ---- input readers: each member type-checked, bounded, named in the message ----

function str(body: Json, key: string, required: true, max?: number): string;
function str(body: Json, key: string, required?: false, max?: number): string | undefined;
function str(body: Json, key: string, required = false, max = MAX_STRING_CHARS): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw validation(`${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw validation(`${key} must be a string`);
  if (v.length > max) throw validation(`${key} is longer than ${max} characters`);
  return v;
}

function bool(body: Json, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw validation(`${key} must be true or false`);
  return v;
}

function int(body: Json, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw validation(`${key} must be a whole number`);
  return v;
}

function strings(body: Json, key: string, maxItems: number, required = false): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw validation(`${key} is required`);
    return undefined;
  }
  if (!Array.isArray(v)) throw validation(`${key} must be a list of strings`);
  if (v.length > maxItems * 4) throw validation(`${key} holds ${v.length} items, far more than the ${maxItems} accepted`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || x.length > 2048) throw validation(`${key}[${i}] must be a string of at most 2048 characters`);
    return x;
  });
}

function object(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw validation(`${what} must be an object`);
  return v as Json;
}

function tags(body: Json, key = 'tags'): Tag[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw validation(`${key} must be a list of {key, value}`);
  if (v.length > 200) throw new ControlPlaneError(400, 'TooManyTagsException', `${v.length} tags given; at most 200 per resource`);
  return v.map((t, i) => {
    const o = object(t, `${key}[${i}]`);
    return { key: str(o, 'key', true, 128), value: str(o, 'value', false, 256) ?? '' };
  });
}

function source(body: Json, required: boolean): Source | undefined {
  const v = body.source;
  if (v === undefined || v === null) {
    if (required) throw validation('source is required: {"sourceType":"CERTIFICATE_BUNDLE","sourceData":{"x509CertificateData":"<PEM>"}}');
    return undefined;
  }
  const o = object(v, 'source');
  const type = str(o, 'sourceType', true, 40);
  if (type !== 'CERTIFICATE_BUNDLE' && type !== 'AWS_ACM_PCA' && type !== 'SELF_SIGNED_REPOSITORY') {
    throw validation(`sourceType "${shown(type)}" is not one of CERTIFICATE_BUNDLE, AWS_ACM_PCA, SELF_SIGNED_REPOSITORY`);
  }
  if (type === 'SELF_SIGNED_REPOSITORY') throw validation('sourceType SELF_SIGNED_REPOSITORY is reserved by the service: use CERTIFICATE_BUNDLE');
  const data = object(o.sourceData, 'source.sourceData');
  const x509CertificateData = str(data, 'x509CertificateData', false, 8000);
  const acmPcaArn = str(data, 'acmPcaArn', false, 1011);
  return {
    sourceType: type,
    sourceData: { ...(x509CertificateData !== undefined ? { x509CertificateData } : {}), ...(acmPcaArn !== undefined ? { acmPcaArn } : {}) },
  };
}

const EVENTS: readonly NotificationEvent[] = ['CA_CERTIFICATE_EXPIRY', 'END_ENTITY_CERTIFICATE_EXPIRY'];

function event(o: Json): NotificationEvent {
  const e = str(o, 'event', true, 64);
  if (!(EVENTS as readonly string[]).includes(e)) throw validation(`event "${shown(e)}" is not one of ${EVENTS.join(', ')}`);
  const channel = str(o, 'channel', false, 16);
  if (channel !== undefined && channel !== 'ALL') throw validation('channel must be ALL');
  return e as NotificationEvent;
}

function notificationSettings(body: Json, key: string, required: boolean): NotificationSetting[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw validation(`${key} is required`);
    return undefined;
  }
  if (!Array.isArray(v) || v.length > 50) throw validation(`${key} must be a list of at most 50 settings`);
  return v.map((s, i) => {
    const o = object(s, `${key}[${i}]`);
    const enabled = bool(o, 'enabled');
    if (enabled === undefined) throw validation(`${key}[${i}].enabled is required`);
    const threshold = int(o, 'threshold');
    if (threshold !== undefined && (threshold < 1 || threshold > 360)) throw validation('threshold is a number of days from 1 to 360');
    return { enabled, event: event(o), ...(threshold !== undefined ? { threshold } : {}), channel: 'ALL' as const };
  });
}

const FIELDS: readonly CertificateField[] = ['x509Subject', 'x509Issuer', 'x509SAN'];

function certificateField(v: string | undefined | null): CertificateField {
  if (v === undefined || v === null || !(FIELDS as readonly string[]).includes(v)) throw validation(`certificateField must be one of ${FIELDS.join(', ')}`);
  return v as CertificateField;
}

// ---- pagination: nextToken is the offset, opaque to clients ----

function page<T>(items: readonly T[], query: URLSearchParams): { slice: T[]; nextToken?: string } {
  const rawSize = query.get('pageSize');
  let size = DEFAULT_PAGE_SIZE;
  if (rawSize !== null) {
    if (!/^\d{1,6}$/.test(rawSize) || Number(rawSize) < 1) throw validation('pageSize must be a positive whole number');
    size = Math.min(Number(rawSize), MAX_PAGE_SIZE);
  }
  const token = query.get('nextToken');
  let offset = 0;
  if (token !== null) {
    const m = /^o([0-9]{1,7})$/.exec(Buffer.from(token, 'base64url').toString('latin1'));
    if (m === null) throw validation('nextToken is not one this endpoint issued');
    offset = Number(m[1]);
  }
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? Buffer.from(`o${offset + size}`, 'latin1').toString('base64url') : undefined;
  return { slice, ...(next !== undefined ? { nextToken: next } : {}) };
}

// ---- routes ----

const ID = '([^/]{1,128})';

function route(method: string, path: string, operation: string, handler: Handler): Route {
  return { method, pattern: new RegExp(`^${path.replace('{id}', ID)}$`), operation, handler };
}

const ROUTES: readonly Route[] = [
  route('POST', '/trustanchors', 'CreateTrustAnchor', (s, _id, b) => {
    const ns = notificationSettings(b, 'notificationSettings', false);
    const tg = tags(b);
    const en = bool(b, 'enabled');
    const a = s.createTrustAnchor({
      name: str(b, 'name', true, 255),
      source: source(b, true)!,
      ...(en !== undefined ? { enabled: en } : {}),
      ...(ns !== undefined ? { notificationSettings: ns } : {}),
      ...(tg !== undefined ? { tags: tg } : {}),
    });
    return { status: 201, body: { trustAnchor: trustAnchorOut(a) } };
  }),
  route('GET', '/trustanchors', 'ListTrustAnchors', (s, _id, _b, q) => {
    const p = page(s.listTrustAnchors(), q);
    return { body: { trustAnchors: p.slice.map(trustAnchorOut), ...(p.nextToken !== undefined ? { nextToken: p.nextToken } : {}) } };
  }),
  route('GET', '/trustanchor/{id}', 'GetTrustAnchor', (s, id) => ({ body: { trustAnchor: trustAnchorOut(s.getTrustAnchor(id)) } })),
  route('PATCH', '/trustanchor/{id}', 'UpdateTrustAnchor', (s, id, b) => {
    const name = str(b, 'name', false, 255);
    const src = source(b, false);
    return {
      body: {
        trustAnchor: trustAnchorOut(s.updateTrustAnchor(id, { ...(name !== undefined ? { name } : {}), ...(src !== undefined ? { source: src } : {}) })),
      },
    };
  }),
  route('DELETE', '/trustanchor/{id}', 'DeleteTrustAnchor', (s, id) => ({ body: { trustAnchor: trustAnchorOut(s.deleteTrustAnchor(id)) } })),
  route('POST', '/trustanchor/{id}/enable', 'EnableTrustAnchor', (s, id) => ({ body: { trustAnchor: trustAnchorOut(s.setTrustAnchorEnabled(id, true)) } })),
  route('POST', '/trustanchor/{id}/disable', 'DisableTrustAnchor', (s, id) => ({ body: { trustAnchor: trustAnchorOut(s.setTrustAnchorEnabled(id, false)) } })),
  route('PATCH', '/put-notifications-settings', 'PutNotificationSettings', (s, _id, b) => {
    const id = str(b, 'trustAnchorId', true, 36);
    const a = s.putNotificationSettings(id, notificationSettings(b, 'notificationSettings', true)!);
    return { body: { trustAnchor: trustAnchorOut(a) } };
  }),
  route('PATCH', '/reset-notifications-settings', 'ResetNotificationSettings', (s, _id, b) => {
    const id = str(b, 'trustAnchorId', true, 36);
    const v = b.notificationSettingKeys;
    if (!Array.isArray(v) || v.length > 50) throw validation('notificationSettingKeys must be a list of at most 50 {event, channel}');
    const keys = v.map((k, i) => ({ event: event(object(k, `notificationSettingKeys[${i}]`)) }));
    return { body: { trustAnchor: trustAnchorOut(s.resetNotificationSettings(id, keys)) } };
  }),

  route('POST', '/profiles', 'CreateProfile', (s, _id, b) => {
    const opt = <K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : ({ [k]: v } as Record<K, V>));
    const p = s.createProfile({
      name: str(b, 'name', true, 255),
      roleArns: strings(b, 'roleArns', 250, true)!,
      ...opt('enabled', bool(b, 'enabled')),
      ...opt('managedPolicyArns', strings(b, 'managedPolicyArns', 50)),
      ...opt('sessionPolicy', str(b, 'sessionPolicy', false)),
      ...opt('durationSeconds', int(b, 'durationSeconds')),
      ...opt('acceptRoleSessionName', bool(b, 'acceptRoleSessionName')),
      ...opt('requireInstanceProperties', bool(b, 'requireInstanceProperties')),
      ...opt('tags', tags(b)),
    });
    return { status: 201, body: { profile: profileOut(p) } };
  }),
  route('GET', '/profiles', 'ListProfiles', (s, _id, _b, q) => {
    const p = page(s.listProfiles(), q);
    return { body: { profiles: p.slice.map(profileOut), ...(p.nextToken !== undefined ? { nextToken: p.nextToken } : {}) } };
  }),
  route('GET', '/profile/{id}', 'GetProfile', (s, id) => ({ body: { profile: profileOut(s.getProfile(id)) } })),
  route('PATCH', '/profile/{id}', 'UpdateProfile', (s, id, b) => {
    const opt = <K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : ({ [k]: v } as Record<K, V>));
    const p = s.updateProfile(id, {
      ...opt('name', str(b, 'name', false, 255)),
      ...opt('roleArns', strings(b, 'roleArns', 250)),
      ...opt('managedPolicyArns', strings(b, 'managedPolicyArns', 50)),
      ...opt('sessionPolicy', str(b, 'sessionPolicy', false)),
      ...opt('durationSeconds', int(b, 'durationSeconds')),
      ...opt('acceptRoleSessionName', bool(b, 'acceptRoleSessionName')),
    });
    return { body: { profile: profileOut(p) } };
  }),
  route('DELETE', '/profile/{id}', 'DeleteProfile', (s, id) => ({ body: { profile: profileOut(s.deleteProfile(id)) } })),
  route('POST', '/profile/{id}/enable', 'EnableProfile', (s, id) => ({ body: { profile: profileOut(s.setProfileEnabled(id, true)) } })),
  route('POST', '/profile/{id}/disable', 'DisableProfile', (s, id) => ({ body: { profile: profileOut(s.setProfileEnabled(id, false)) } })),
  route('PUT', '/profiles/{id}/mappings', 'PutAttributeMapping', (s, id, b) => {
    const field = certificateField(str(b, 'certificateField', true, 20));
    const rules = b.mappingRules;
    if (!Array.isArray(rules) || rules.length > 200) throw validation('mappingRules must be a list of {specifier}');
    const mapping: AttributeMapping = {
      certificateField: field,
      mappingRules: rules.map((r, i) => ({ specifier: str(object(r, `mappingRules[${i}]`), 'specifier', true, 60) })),
    };
    return { body: { profile: profileOut(s.putAttributeMapping(id, mapping)) } };
  }),
  route('DELETE', '/profiles/{id}/mappings', 'DeleteAttributeMapping', (s, id, _b, q) => {
    const field = certificateField(q.get('certificateField'));
    return { body: { profile: profileOut(s.deleteAttributeMapping(id, field, q.getAll('specifiers'))) } };
  }),

  route('POST', '/crls', 'ImportCrl', async (s, _id, b) => {
    const data = str(b, 'crlData', true, 400_004);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw validation('crlData must be base64');
    const en = bool(b, 'enabled');
    const tg = tags(b);
    const c = await s.importCrl({
      name: str(b, 'name', true, 255),
      crlData: Buffer.from(data, 'base64'),
      trustAnchorArn: str(b, 'trustAnchorArn', true, 1011),
      ...(en !== undefined ? { enabled: en } : {}),
      ...(tg !== undefined ? { tags: tg } : {}),
    });
    return { status: 201, body: { crl: crlOut(c) } };
  }),
  route('GET', '/crls', 'ListCrls', (s, _id, _b, q) => {
    const p = page(s.listCrls(), q);
    return { body: { crls: p.slice.map(crlOut), ...(p.nextToken !== undefined ? { nextToken: p.nextToken } : {}) } };
  }),
  route('GET', '/crl/{id}', 'GetCrl', (s, id) => ({ body: { crl: crlOut(s.getCrl(id)) } })),
  route('PATCH', '/crl/{id}', 'UpdateCrl', async (s, id, b) => {
    const name = str(b, 'name', false, 255);
    const data = str(b, 'crlData', false, 400_004);
    if (data !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw validation('crlData must be base64');
    const c = await s.updateCrl(id, { ...(name !== undefined ? { name } : {}), ...(data !== undefined ? { crlData: Buffer.from(data, 'base64') } : {}) });
    return { body: { crl: crlOut(c) } };
  }),
  route('DELETE', '/crl/{id}', 'DeleteCrl', (s, id) => ({ body: { crl: crlOut(s.deleteCrl(id)) } })),
  route('POST', '/crl/{id}/enable', 'EnableCrl', (s, id) => ({ body: { crl: crlOut(s.setCrlEnabled(id, true)) } })),
  route('POST', '/crl/{id}/disable', 'DisableCrl', (s, id) => ({ body: { crl: crlOut(s.setCrlEnabled(id, false)) } })),

  route('GET', '/subjects', 'ListSubjects', (s, _id, _b, q) => {
    const p = page(s.listSubjects(), q);
    return { body: { subjects: p.slice.map(subjectSummary), ...(p.nextToken !== undefined ? { nextToken: p.nextToken } : {}) } };
  }),
  route('GET', '/subject/{id}', 'GetSubject', (s, id) => ({ body: { subject: subjectOut(s.getSubject(id)) } })),

  route('GET', '/ListTagsForResource', 'ListTagsForResource', (s, _id, _b, q) => {
    const arn = q.get('resourceArn');
    if (arn === null || arn === '') throw validation('resourceArn is required');
    return { body: { tags: s.listTags(arn) } };
  }),
  route('POST', '/TagResource', 'TagResource', (s, _id, b) => {
    const t = tags(b);
    if (t === undefined) throw validation('tags is required');
    s.tagResource(str(b, 'resourceArn', true, 1011), t);
    return { status: 201, body: {} };
  }),
  route('POST', '/UntagResource', 'UntagResource', (s, _id, b) => {
    s.untagResource(str(b, 'resourceArn', true, 1011), strings(b, 'tagKeys', 200, true)!);
    return { body: {} };
  }),
];

/** Whether `path` is one of the control plane's (so the server routes it here, not to STS). */
export function isControlPath(path: string): boolean {
  return ROUTES.some((r) => r.pattern.test(path));
}

/** The operation a request names, for logs; undefined when none. */
export function operationOf(method: string, path: string): string | undefined {
  return ROUTES.find((r) => r.method === method && r.pattern.test(path))?.operation;
}

function decodeId(raw: string, operation: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw validation('the resource id in the path is not valid percent-encoding');
  }
  // The service's ids are lower-case UUIDs; the emulator's fixed demo ids are too.
  if (!UUID.test(id)) throw validation(`${operation}: "${shown(id)}" is not a resource id (a 36-character UUID); the path takes the id, not the ARN`);
  return id;
}

/** Runs one authenticated control-plane request against `store`. Throws nothing: errors become responses. */
export async function handleControlRequest(req: ControlRequest, store: ControlPlaneStore): Promise<ControlResponse> {
  const candidates = ROUTES.filter((r) => r.pattern.test(req.path));
  const r = candidates.find((c) => c.method === req.method);
  if (r === undefined) {
    const err =
      candidates.length > 0
        ? new ControlPlaneError(
            405,
            'UnknownOperationException',
            `${shown(req.method, 10)} is not allowed on ${shown(req.path)}: use ${candidates.map((c) => c.method).join(' or ')}`,
          )
        : new ControlPlaneError(404, 'UnknownOperationException', `no operation at ${shown(req.path)}`);
    return errorResponse(err, 'Unknown');
  }
  try {
    const m = r.pattern.exec(req.path)!;
    const id = m[1] !== undefined ? decodeId(m[1], r.operation) : '';
    const pairs = [...new URLSearchParams(req.rawQuery)];
    if (pairs.length > MAX_QUERY_PARAMS) throw validation(`at most ${MAX_QUERY_PARAMS} query parameters`);
    if (pairs.some(([k, v]) => k.length > 64 || v.length > MAX_QUERY_VALUE_CHARS))
      throw validation(`a query parameter is longer than ${MAX_QUERY_VALUE_CHARS} characters`);
    const query = new URLSearchParams(pairs);
    let body: Json = {};
    if (req.body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(req.body.toString('utf8'));
      } catch {
        throw new ControlPlaneError(400, 'SerializationException', 'the request body is not JSON');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new ControlPlaneError(400, 'SerializationException', 'the request body must be a JSON object');
      body = parsed as Json;
    }
    const out = await r.handler(store, id, body, query);
    return { status: out.status ?? 200, body: out.body, operation: r.operation };
  } catch (e) {
    if (e instanceof ControlPlaneError) return errorResponse(e, r.operation);
    throw e;
  }
}

export function errorResponse(e: ControlPlaneError, operation: string): ControlResponse {
  return { status: e.status, body: { message: e.message }, operation, errorType: e.errorType };
}
