/**
 * Property-based fuzzing of the emulated control plane's request parsing: methods, paths
 * (ids, percent-encoding), query strings and JSON bodies, random and shaped after the real
 * operations, against a store with an anchor, a profile and a CRL; and the admin SigV4 check
 * against mutated headers. Every answer is a status the protocol allows with an error type
 * and a one-line message, the store's invariants hold (quotas, CRLs per anchor), and nothing
 * throws.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { ManualClock, systemRandom } from '../../src/core/clock.js';
import {
  ControlPlaneStore,
  MAX_CRLS_PER_TRUST_ANCHOR,
  MAX_ROLES_PER_PROFILE,
  defaultEmulatorConfig,
  handleControlRequest,
  issueCertificate,
  issueCrl,
} from '../../src/emulator/index.js';
import { authenticateAdmin } from '../../src/emulator/control/auth.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const STATUSES = new Set([200, 201, 400, 403, 404, 405]);
let store: ControlPlaneStore;
let anchorId: string;
let profileId: string;
let crlId: string;
let rootPem: string;
let crlB64: string;

before(async () => {
  const root = await issueCertificate({
    subject: 'CN=Fuzz Root',
    keySpec: 'ec-p256',
    isCa: true,
    notBefore: new Date(NOW - 86_400_000),
    notAfter: new Date(NOW + 86_400_000 * 365),
  });
  rootPem = root.certPem;
  store = ControlPlaneStore.fromConfig(defaultEmulatorConfig({ roots: [root.cert] }), { clock: new ManualClock(NOW), random: systemRandom });
  anchorId = store.listTrustAnchors()[0]!.trustAnchorId;
  profileId = store.listProfiles()[0]!.profileId;
  const pem = await issueCrl(root, { revokedSerialsHex: ['0a'], thisUpdate: new Date(NOW), nextUpdate: new Date(NOW + 86_400_000) });
  crlB64 = Buffer.from(pem).toString('base64');
  crlId = (await store.importCrl({ name: 'fuzz', crlData: Buffer.from(pem), trustAnchorArn: store.listTrustAnchors()[0]!.trustAnchorArn })).crlId;
});

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const KEYS = [
  'name',
  'enabled',
  'source',
  'sourceType',
  'sourceData',
  'x509CertificateData',
  'acmPcaArn',
  'roleArns',
  'durationSeconds',
  'managedPolicyArns',
  'sessionPolicy',
  'acceptRoleSessionName',
  'crlData',
  'trustAnchorArn',
  'tags',
  'tagKeys',
  'resourceArn',
  'notificationSettings',
  'trustAnchorId',
  'certificateField',
  'mappingRules',
  'notificationSettingKeys',
];

/** Bodies shaped like the real ones: known member names with plausible and implausible values. */
const shapedBody = fc.dictionary(
  fc.constantFrom(...KEYS),
  fc.oneof(
    jsonValue,
    fc.constant([`arn:aws:iam::123456789012:role/r`]),
    fc.constant({ sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' } }),
    fc.constant([{ key: 'k', value: 'v' }]),
    fc.constant('not base64 !'),
    fc.constant(Array.from({ length: MAX_ROLES_PER_PROFILE + 1 }, (_, i) => `arn:aws:iam::123456789012:role/r${i}`)),
  ),
  { maxKeys: 6 },
);

const paths = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(
      '/trustanchors',
      '/profiles',
      '/crls',
      '/subjects',
      '/ListTagsForResource',
      '/TagResource',
      '/UntagResource',
      '/put-notifications-settings',
      '/reset-notifications-settings',
    ),
    fc
      .tuple(
        fc.constantFrom('/trustanchor/', '/profile/', '/crl/', '/subject/', '/profiles/'),
        fc.oneof(fc.constantFrom(anchorId, profileId, crlId, '%zz', '%2F..', ''), fc.string({ maxLength: 50 })),
        fc.constantFrom('', '/enable', '/disable', '/mappings', '/x'),
      )
      .map(([a, b, c]) => `${a}${b}${c}`),
    fc.string({ maxLength: 60 }).map((s) => `/${s}`),
  );

const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    'pageSize=1',
    'pageSize=0',
    'pageSize=-1',
    'pageSize=abc',
    'nextToken=bzE',
    'nextToken=%%%',
    'certificateField=x509Subject&specifiers=CN',
    'resourceArn=arn%3Aaws',
  ),
  fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })), { maxLength: 20 }).map((pairs) => new URLSearchParams(pairs).toString()),
);

function checkInvariants(): void {
  const perAnchor = new Map<string, number>();
  for (const c of store.listCrls()) perAnchor.set(c.trustAnchorArn, (perAnchor.get(c.trustAnchorArn) ?? 0) + 1);
  for (const n of perAnchor.values()) assert.ok(n <= MAX_CRLS_PER_TRUST_ANCHOR, `${n} CRLs on one anchor`);
  for (const p of store.listProfiles()) assert.ok(p.roleArns.length <= MAX_ROLES_PER_PROFILE && p.roleArns.length >= 0);
  assert.ok(store.view().trustAnchors.length === store.listTrustAnchors().length);
}

test('any method, path, query and body gets a protocol answer, never a throw', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
      paths(),
      query,
      fc.oneof(
        shapedBody.map((b) => Buffer.from(JSON.stringify(b))),
        jsonValue.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
        fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
      ),
      async (method, path, rawQuery, body) => {
        const res = await handleControlRequest({ method, path, rawQuery, body }, store);
        assert.ok(STATUSES.has(res.status), `status ${res.status} for ${method} ${path}`);
        if (res.status >= 400) {
          assert.ok(res.errorType !== undefined && res.errorType.length > 0);
          const message = (res.body as { message: string }).message;
          assert.equal(typeof message, 'string');
          assert.doesNotMatch(message, /[\r\n]/);
          assert.ok(message.length <= 600);
        } else {
          assert.equal(typeof JSON.stringify(res.body), 'string');
        }
        checkInvariants();
      },
    ),
    { numRuns: 600 },
  );
});

test('the real operations with fuzzed members never break the store', async () => {
  const ops: Array<[string, string]> = [
    ['POST', '/trustanchors'],
    ['PATCH', `/trustanchor/${anchorId}`],
    ['POST', '/profiles'],
    ['PATCH', `/profile/${profileId}`],
    ['PUT', `/profiles/${profileId}/mappings`],
    ['POST', '/crls'],
    ['PATCH', `/crl/${crlId}`],
    ['POST', '/TagResource'],
    ['PATCH', '/put-notifications-settings'],
  ];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ops), shapedBody, fc.boolean(), async ([method, path], body, valid) => {
      const b: Record<string, unknown> = { ...body };
      if (valid) {
        // Half the runs carry the members an operation needs, so the deeper validation is reached.
        b.name ??= 'fuzz name';
        if (path === '/trustanchors') b.source = { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: rootPem } };
        if (path === '/crls') Object.assign(b, { crlData: crlB64, trustAnchorArn: store.listTrustAnchors()[0]?.trustAnchorArn });
        if (path === '/TagResource') b.resourceArn = store.listProfiles()[0]?.profileArn;
        if (path === '/put-notifications-settings') b.trustAnchorId = anchorId;
      }
      const res = await handleControlRequest({ method, path, rawQuery: '', body: Buffer.from(JSON.stringify(b)) }, store);
      assert.ok(STATUSES.has(res.status), `status ${res.status}`);
      checkInvariants();
    }),
    { numRuns: 300 },
  );
  assert.ok(store.listTrustAnchors().length <= 50, 'the trust anchor quota held');
});

test('mutated Authorization headers are refused with an authentication error, never a throw', async () => {
  const credentials = { accessKeyId: 'AKIAFUZZADMIN0000001', secretAccessKey: 'fuzz-secret-0123456789abcdefghijklmnopqr' };
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc
          .tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 20 }), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 64 }))
          .map(
            ([key, region, sig]) =>
              `AWS4-HMAC-SHA256 Credential=${key}/20260115/${region}/rolesanywhere/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
          ),
      ),
      fc.oneof(fc.constant('20260115T120000Z'), fc.string({ maxLength: 20 })),
      async (authorization, date) => {
        const err = await authenticateAdmin(
          {
            method: 'GET',
            path: '/profiles',
            rawQuery: '',
            headers: [
              ['host', '127.0.0.1:1'],
              ['authorization', authorization],
              ['x-amz-date', date],
            ],
            body: Buffer.alloc(0),
          },
          { credentials, region: 'us-east-1', nowMs: NOW },
        );
        assert.ok(err !== undefined, 'a random signature never verifies');
        assert.ok([400, 403].includes(err.status));
        assert.doesNotMatch(err.message, /fuzz-secret/, 'the secret is never echoed');
      },
    ),
    { numRuns: 400 },
  );
});
