import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ManualClock, systemRandom } from '../../core/clock.js';
import { defaultEmulatorConfig } from '../config.js';
import { issueCertificate, issueCrl, type IssuedCertificate } from '../pki.js';
import { revocationOf } from './crl.js';
import { ControlPlaneStore } from './store.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const DAY = 86_400_000;
let root: IssuedCertificate;
let other: IssuedCertificate;
let leaf: IssuedCertificate;

before(async () => {
  const v = { notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + 365 * DAY) };
  root = await issueCertificate({ ...v, subject: 'CN=Store Root', keySpec: 'ec-p256', isCa: true });
  other = await issueCertificate({ ...v, subject: 'CN=Other Root', keySpec: 'ec-p256', isCa: true });
  leaf = await issueCertificate({ ...v, subject: 'CN=store-leaf', keySpec: 'ec-p256' }, root);
});

function newStore(): { store: ControlPlaneStore; clock: ManualClock } {
  const clock = new ManualClock(NOW);
  return { store: ControlPlaneStore.fromConfig(defaultEmulatorConfig({ roots: [root.cert] }), { clock, random: systemRandom }), clock };
}

test('the view follows enable/disable and is rebuilt only after a change', () => {
  const { store } = newStore();
  const first = store.view();
  assert.equal(store.view(), first, 'cached while nothing changed');
  const profile = store.listProfiles()[0]!;
  store.setProfileEnabled(profile.profileId, false);
  assert.equal(store.view().profiles[0]!.enabled, false);
  store.recordSubject(store.listTrustAnchors()[0]!.trustAnchorArn, leaf.cert, NOW);
  assert.equal(store.listSubjects().length, 1);
});

test('an enabled CRL signed by the anchor revokes the leaf; a CRL of another CA is refused', async () => {
  const { store } = newStore();
  const anchor = store.listTrustAnchors()[0]!;
  const pem = await issueCrl(root, { revokedSerialsHex: [leaf.cert.serialNumber], thisUpdate: new Date(NOW), nextUpdate: new Date(NOW + DAY) });
  const crl = await store.importCrl({ name: 'c', crlData: Buffer.from(pem), trustAnchorArn: anchor.trustAnchorArn });
  assert.equal(revocationOf([leaf.cert], store.view().trustAnchors[0]!.crls ?? []), undefined, 'imported disabled by default');
  store.setCrlEnabled(crl.crlId, true);
  assert.match(revocationOf([leaf.cert], store.view().trustAnchors[0]!.crls ?? []) ?? '', /revoked by CRL "c"/);
  const foreign = await issueCrl(other, { revokedSerialsHex: ['01'], thisUpdate: new Date(NOW), nextUpdate: new Date(NOW + DAY) });
  await assert.rejects(store.importCrl({ name: 'f', crlData: Buffer.from(foreign), trustAnchorArn: anchor.trustAnchorArn }), /not signed by a CA certificate/);
  // Replacing the bundle drops the CRL signed by the old CA.
  store.updateTrustAnchor(anchor.trustAnchorId, { source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: other.certPem } } });
  assert.deepEqual(store.view().trustAnchors[0]!.crls, []);
});

test('a state document round-trips', async () => {
  const { store, clock } = newStore();
  const ta = store.createTrustAnchor({
    name: 'doc',
    enabled: true,
    source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: root.certPem } },
    tags: [{ key: 'a', value: 'b' }],
  });
  const pem = await issueCrl(root, { revokedSerialsHex: ['0b'], thisUpdate: new Date(NOW), nextUpdate: new Date(NOW + DAY) });
  await store.importCrl({ name: 'kept', crlData: Buffer.from(pem), trustAnchorArn: ta.trustAnchorArn, enabled: true });
  const doc = JSON.parse(JSON.stringify(store.toDocument())) as unknown;
  const again = ControlPlaneStore.fromDocument(doc, { accountId: store.accountId, region: store.region, clock, random: systemRandom });
  assert.deepEqual(again.toDocument(), store.toDocument());
  assert.equal(again.view().trustAnchors.find((t) => t.arn === ta.trustAnchorArn)!.crls!.length, 1);
  assert.deepEqual(again.listTags(ta.trustAnchorArn), [{ key: 'a', value: 'b' }]);
  assert.throws(() => ControlPlaneStore.fromDocument(doc, { accountId: '210987654321', region: store.region, clock, random: systemRandom }), /account/);
});
