import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Random } from '../core/clock.js';
import { IssuedStore, issueSession, sourceIdentityOf, type IssuedSecret } from './issuer.js';
import { DEFAULT_PROFILE_ARN, DEFAULT_ROLE_ARN, DEFAULT_TRUST_ANCHOR_ARN, type EmulatorConfig } from './config.js';
import type { VerifiedSession } from './verifier.js';

/** The fields of a CreateSession answer these tests read. */
interface SessionBody {
  credentialSet: Array<{
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
    assumedRoleUser: { arn: string; assumedRoleId: string };
    sourceIdentity?: string;
  }>;
}

test('sourceIdentity is the CN, or the whole subject when there is none', () => {
  assert.equal(sourceIdentityOf('C=US\nO=Example\nCN=workload-1'), 'CN=workload-1');
  assert.equal(sourceIdentityOf('C=US\nO=Example'), 'C=US,O=Example');
});

test('the store forgets the oldest sessions beyond its capacity', () => {
  const store = new IssuedStore(2);
  const rec = (id: string): IssuedSecret => ({
    accessKeyId: id,
    secretAccessKey: 's'.repeat(40),
    sessionToken: 't',
    assumedRoleId: 'AROA:x',
    accountId: '123456789012',
    roleArn: 'arn:aws:iam::123456789012:role/r',
    assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/r/x',
    sessionName: 'x',
    issuedAt: 0,
    expiration: 1,
    serialDecimal: '1',
    fingerprint: 'f',
    profileArn: 'p',
    trustAnchorArn: 't',
    kind: 'rolesanywhere',
  });
  store.add(rec('A'));
  store.add(rec('B'));
  store.add(rec('C'));
  assert.equal(store.size, 2);
  assert.equal(store.get('A'), undefined);
  assert.deepEqual(
    store.records().map((r) => r.accessKeyId),
    ['B', 'C'],
  );
  assert.ok(store.records().every((r) => !('secretAccessKey' in r) && !('sessionToken' in r)));
});

test('issueSession mints service-shaped credentials from the injected randomness', () => {
  // A counting source makes the output reproducible; bytes >= 252 must be skipped for the 36-symbol alphabet.
  const counting = (): Random => {
    let n = 0;
    return { float: () => 0, bytes: (k) => Buffer.from(Array.from({ length: k }, () => n++ % 256)) };
  };
  const verified = {
    ok: true,
    leaf: { subject: 'O=Example\nCN=w1', issuer: 'CN=Root' },
    params: { profileArn: DEFAULT_PROFILE_ARN, roleArn: DEFAULT_ROLE_ARN, trustAnchorArn: DEFAULT_TRUST_ANCHOR_ARN, durationSeconds: 3600 },
    serialDecimal: '255',
    serialHex: 'ff',
    fingerprint: 'ab',
  } as unknown as VerifiedSession;
  const config: EmulatorConfig = { accountId: '123456789012', region: 'us-east-1', trustAnchors: [], profiles: [], credentialLifetimeSeconds: 120 };
  const a = issueSession(verified, config, 1_700_000_000_500, counting());
  const b = issueSession(verified, config, 1_700_000_000_500, counting());
  assert.equal(a.body, b.body, 'same randomness, same answer');
  assert.match(a.secret.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.match(a.secret.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
  assert.equal(a.secret.sessionName, 'ff');
  assert.equal(a.secret.assumedRoleArn, 'arn:aws:sts::123456789012:assumed-role/rolesanywhere-demo/ff');
  assert.equal(a.secret.expiration, 1_700_000_000_000 + 120_000, 'whole seconds, capped by credentialLifetimeSeconds');
  const doc = JSON.parse(a.body) as SessionBody;
  assert.equal(doc.credentialSet[0]!.credentials.expiration, '2023-11-14T22:15:20Z');
  assert.equal(doc.credentialSet[0]!.sourceIdentity, 'CN=w1');
});
