import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeKey, signBytes } from '../identity/key-signer.js';
import { authorizationHeader, canonicalRequest, credentialScope, signableHeaderNames, stringToSign } from '../signing/canonical.js';
import { amzDate } from '../core/clock.js';
import { DEFAULT_PROFILE_ARN, DEFAULT_ROLE_ARN, DEFAULT_TRUST_ANCHOR_ARN, defaultEmulatorConfig, type EmulatorConfig } from './config.js';
import { issueCertificate, type IssuedCertificate } from './pki.js';
import * as x509 from '@peculiar/x509';
const { KeyUsageFlags } = x509;
import { verifyCreateSession, type ReceivedRequest, type VerifyResult } from './verifier.js';
import {
  PKI_NOT_AFTER,
  PKI_NOT_BEFORE,
  TEST_NOW,
  createTestPki,
  decimalSerial,
  received,
  signWith,
  type TestPki,
} from '../../test/helpers/emulator-support.js';

// Test files compile to dist/src/emulator; fixtures stay in the source tree.
const vectors = fileURLToPath(new URL('../../../test/fixtures/vectors/', import.meta.url));

function assertRejected(r: VerifyResult, status: number, pattern: RegExp): void {
  assert.equal(r.ok, false, 'expected a rejection');
  if (r.ok) return;
  assert.equal(r.status, status, r.message);
  assert.match(r.message, pattern);
  assert.ok(!r.message.includes('\n'), 'messages are one line');
}

function assertAccepted(r: VerifyResult): asserts r is Extract<VerifyResult, { ok: true }> {
  assert.equal(r.ok, true, r.ok ? '' : `${r.errorType}: ${r.message}`);
}

function setHeader(req: ReceivedRequest, name: string, value: string): ReceivedRequest {
  return { ...req, headers: req.headers.map(([k, v]) => [k, k.toLowerCase() === name.toLowerCase() ? value : v] as [string, string]) };
}

function headerOf(req: ReceivedRequest, name: string): string {
  const h = req.headers.find(([k]) => k.toLowerCase() === name.toLowerCase());
  assert.ok(h, `request has ${name}`);
  return h[1];
}

/** Changes the character at `index` (negative counts from the end) to a different one of the same class. */
function flipAt(s: string, index: number): string {
  const i = index < 0 ? s.length + index : index;
  const c = s[i]!;
  const r = /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : /[a-f]/.test(c) ? (c === 'f' ? 'e' : 'f') : c === 'A' ? 'B' : 'A';
  return s.slice(0, i) + r + s.slice(i + 1);
}

describe('captured ECDSA P-384 request (official helper v1.1.1)', () => {
  const dir = `${vectors}ecdsa-capture/`;
  const readme = readFileSync(`${dir}README.md`, 'utf8');
  const authorization = /```\n(AWS4-X509-ECDSA-SHA256 [^\n]+)\n```/.exec(readme)?.[1];
  const rawQuery = /`POST \/sessions\?([^`]+)`/.exec(readme)?.[1];
  const leaf = new X509Certificate(readFileSync(`${dir}leaf.crt`));
  const root = new X509Certificate(readFileSync(`${dir}root-ca.crt`));
  const capturedAt = Date.UTC(2024, 6, 6, 14, 30, 4);
  const TA = 'arn:aws:rolesanywhere:us-east-2:291738886548:trust-anchor/1cb4e36e-e4ad-4bbb-9b37-fdafb2cbe4fe';
  const PROFILE = 'arn:aws:rolesanywhere:us-east-2:291738886548:profile/6f4943fb-13d4-4242-89c4-be367595c380';
  const ROLE = 'arn:aws:iam::291738886548:role/rolesanywhere1';
  // Tampered ARNs are configured too, so a changed ARN fails on the signature, not on lookup.
  const TA2 = flipAt(TA, -1);
  const PROFILE2 = flipAt(PROFILE, -1);
  const ROLE2 = flipAt(ROLE, -1);
  const config: EmulatorConfig = {
    accountId: '291738886548',
    region: 'us-east-2',
    trustAnchors: [
      { arn: TA, roots: [root] },
      { arn: TA2, roots: [root] },
    ],
    profiles: [
      { arn: PROFILE, roleArns: [ROLE, ROLE2] },
      { arn: PROFILE2, roleArns: [ROLE, ROLE2] },
    ],
  };
  assert.ok(authorization && rawQuery, 'the vector README holds the Authorization header and the query');
  const captured: ReceivedRequest = {
    method: 'POST',
    path: '/sessions',
    rawQuery,
    headers: [
      ['Content-Type', 'application/json'],
      ['Host', '127.0.0.1:8080'],
      ['X-Amz-Date', '20240706T143004Z'],
      ['X-Amz-X509', leaf.raw.toString('base64')],
      ['Authorization', authorization],
    ],
    body: Buffer.from('{"durationSeconds":3600}'),
  };

  test('is accepted at the captured instant', () => {
    const r = verifyCreateSession(captured, config, capturedAt);
    assertAccepted(r);
    assert.equal(r.serialDecimal, '3');
    assert.equal(r.algorithm, 'AWS4-X509-ECDSA-SHA256');
    assert.deepEqual(r.params, { profileArn: PROFILE, roleArn: ROLE, trustAnchorArn: TA, durationSeconds: 3600 });
    assert.ok(r.root.raw.equals(root.raw));
  });

  test('is accepted up to 5 minutes either side, and rejected at 6', () => {
    assertAccepted(verifyCreateSession(captured, config, capturedAt + 5 * 60_000));
    assertAccepted(verifyCreateSession(captured, config, capturedAt - 5 * 60_000));
    assertRejected(verifyCreateSession(captured, config, capturedAt + 6 * 60_000), 403, /signature expired.*check the client's clock/);
    assertRejected(verifyCreateSession(captured, config, capturedAt - 6 * 60_000), 403, /not yet current/);
  });

  const q = (s: string): string => encodeURIComponent(s);
  const tampered: Array<[string, () => ReceivedRequest, RegExp]> = [
    ['the date header', () => setHeader(captured, 'X-Amz-Date', '20240706T143005Z'), /invalid signature/],
    ['the host header', () => setHeader(captured, 'Host', '127.0.0.1:8081'), /invalid signature/],
    ['the trust anchor ARN', () => ({ ...captured, rawQuery: rawQuery.replace(q(TA), q(TA2)) }), /invalid signature/],
    ['the profile ARN', () => ({ ...captured, rawQuery: rawQuery.replace(q(PROFILE), q(PROFILE2)) }), /invalid signature/],
    ['the role ARN', () => ({ ...captured, rawQuery: rawQuery.replace(q(ROLE), q(ROLE2)) }), /invalid signature/],
    ['the body', () => ({ ...captured, body: Buffer.from('{"durationSeconds":3601}') }), /invalid signature/],
    ['the body whitespace', () => ({ ...captured, body: Buffer.from('{"durationSeconds": 3600}') }), /invalid signature/],
    ['the content type', () => setHeader(captured, 'Content-Type', 'application/jsoN'), /invalid signature/],
    ['the certificate header', () => setHeader(captured, 'X-Amz-X509', flipAt(leaf.raw.toString('base64'), 200)), /./],
    ['the signature', () => setHeader(captured, 'Authorization', flipAt(authorization, -5)), /invalid signature/],
    ['the signed headers list', () => setHeader(captured, 'Authorization', authorization.replace('content-type;', 'content-typf;')), /SignedHeaders/],
    ['the credential serial', () => setHeader(captured, 'Authorization', authorization.replace('Credential=3/', 'Credential=4/')), /serial number 3/],
    ['the scope date', () => setHeader(captured, 'Authorization', authorization.replace('/20240706/', '/20240707/')), /scope date/],
    ['the scope region', () => setHeader(captured, 'Authorization', authorization.replace('/us-east-2/', '/us-east-1/')), /scope region/],
    ['the scope service', () => setHeader(captured, 'Authorization', authorization.replace('/rolesanywhere/', '/sts/')), /scope service/],
    ['the algorithm', () => setHeader(captured, 'Authorization', authorization.replace('ECDSA', 'RSA')), /does not match the certificate's EC key/],
    ['the method', () => ({ ...captured, method: 'PUT' }), /POST \/sessions/],
  ];
  for (const [what, make, pattern] of tampered) {
    test(`is rejected when ${what} changes`, () => {
      const r = verifyCreateSession(make(), config, capturedAt);
      assert.equal(r.ok, false, `a change to ${what} must be rejected`);
      if (!r.ok) assert.match(r.message, pattern);
    });
  }

  test('is rejected when the signature is upper-cased (hex must be lower case, as signed)', () => {
    const upper = authorization.replace(/Signature=([0-9a-f]+)/, (_m, h: string) => `Signature=${h.toUpperCase()}`);
    assertRejected(verifyCreateSession(setHeader(captured, 'Authorization', upper), config, capturedAt), 403, /lower-case hex/);
  });

  test('is rejected when the serial is written in hex or with a leading zero', () => {
    for (const serial of ['0x3', '03']) {
      const auth = authorization.replace('Credential=3/', `Credential=${serial}/`);
      assertRejected(verifyCreateSession(setHeader(captured, 'Authorization', auth), config, capturedAt), 403, /decimal/);
    }
  });

  test('is rejected by an emulator that does not trust its root', async () => {
    const other = await issueCertificate({
      subject: 'CN=Other Root',
      keySpec: 'ec-p256',
      notBefore: new Date('2024-01-01'),
      notAfter: new Date('2030-01-01'),
      isCa: true,
    });
    const untrusting: EmulatorConfig = { ...config, trustAnchors: [{ arn: TA, roots: [other.cert] }] };
    assertRejected(verifyCreateSession(captured, untrusting, capturedAt), 403, /untrusted signing certificate/);
  });
});

test('captured RSA request (official helper v1.1.1) is accepted at its instant', () => {
  const dir = `${vectors}rsa-capture/`;
  const readme = readFileSync(`${dir}README.md`, 'utf8');
  const authorization = /```\n(AWS4-X509-RSA-SHA256 [^\n]+)\n```/.exec(readme)?.[1];
  const rawQuery = /\n\s+`(profileArn=[^`]+)`/.exec(readme)?.[1];
  assert.ok(authorization && rawQuery);
  const leaf = new X509Certificate(readFileSync(`${dir}leaf.crt`));
  const root = new X509Certificate(readFileSync(`${dir}root-ca.crt`));
  const config: EmulatorConfig = {
    accountId: '291738886548',
    region: 'us-east-2',
    trustAnchors: [{ arn: 'arn:aws:rolesanywhere:us-east-2:291738886548:trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da', roots: [root] }],
    profiles: [
      {
        arn: 'arn:aws:rolesanywhere:us-east-2:291738886548:profile/6f4943fb-13d4-4242-89c4-be367595c380',
        roleArns: ['arn:aws:iam::291738886548:role/rolesanywhere1'],
      },
    ],
  };
  const req: ReceivedRequest = {
    method: 'POST',
    path: '/sessions',
    rawQuery,
    headers: [
      ['Content-Type', 'application/json'],
      ['Host', '127.0.0.1:8080'],
      ['X-Amz-Date', '20240706T113859Z'],
      ['X-Amz-X509', leaf.raw.toString('base64')],
      ['Authorization', authorization],
    ],
    body: Buffer.from('{"durationSeconds":3600}'),
  };
  const at = Date.UTC(2024, 6, 6, 11, 38, 59);
  const r = verifyCreateSession(req, config, at);
  assertAccepted(r);
  assert.equal(r.serialDecimal, '21');
  assert.equal(r.serialHex, '15');
  assertRejected(verifyCreateSession({ ...req, body: Buffer.from('{"durationSeconds":900}') }, config, at), 403, /invalid signature/);
});

describe('round trips with this project signer', () => {
  let pki: TestPki;
  let config: EmulatorConfig;
  before(async () => {
    pki = await createTestPki();
    config = defaultEmulatorConfig({ roots: [pki.root.cert] });
  });

  test('RSA-2048 leaf with an intermediate', () => {
    const r = verifyCreateSession(received(signWith(pki.leafRsa, { chain: [pki.intermediate.cert] })), config, TEST_NOW);
    assertAccepted(r);
    assert.equal(r.algorithm, 'AWS4-X509-RSA-SHA256');
    assert.equal(r.intermediates.length, 1);
    assert.equal(r.serialDecimal, decimalSerial(pki.leafRsa.cert));
  });

  test('P-256 leaf directly under the root', () => {
    const r = verifyCreateSession(received(signWith(pki.leafEc256)), config, TEST_NOW);
    assertAccepted(r);
    assert.equal(r.algorithm, 'AWS4-X509-ECDSA-SHA256');
  });

  test('P-384 leaf with an intermediate, and with the root appended to the chain', () => {
    assertAccepted(verifyCreateSession(received(signWith(pki.leafEc384, { chain: [pki.intermediate.cert] })), config, TEST_NOW));
    assertAccepted(verifyCreateSession(received(signWith(pki.leafEc384, { chain: [pki.intermediate.cert, pki.root.cert] })), config, TEST_NOW));
  });

  test('P-256 leaf under an intermediate signed by a P-256 CA, P-521 leaf', async () => {
    const base = { notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER };
    const inter = await issueCertificate({ ...base, subject: 'CN=EC Intermediate', keySpec: 'ec-p256', isCa: true }, pki.root);
    const leaf = await issueCertificate({ ...base, subject: 'CN=ec-under-ec', keySpec: 'ec-p256' }, inter);
    assertAccepted(verifyCreateSession(received(signWith(leaf, { chain: [inter.cert] })), config, TEST_NOW));
    const leaf521 = await issueCertificate({ ...base, subject: 'CN=p521', keySpec: 'ec-p521' }, pki.root);
    assertAccepted(verifyCreateSession(received(signWith(leaf521)), config, TEST_NOW));
  });

  test('takes the duration and session name from the body; defaults to the profile maximum', () => {
    const r = verifyCreateSession(received(signWith(pki.leafEc256, { params: { durationSeconds: 900, roleSessionName: 'build-42' } })), config, TEST_NOW);
    assertAccepted(r);
    assert.equal(r.params.durationSeconds, 900);
    assert.equal(r.params.roleSessionName, 'build-42');
  });

  test('accepts the three ARNs in the JSON body instead of the query', () => {
    const signer = describeKey(pki.leafEc256.key);
    const date = amzDate(TEST_NOW);
    const body = JSON.stringify({
      durationSeconds: 1800,
      profileArn: DEFAULT_PROFILE_ARN,
      roleArn: DEFAULT_ROLE_ARN,
      trustAnchorArn: DEFAULT_TRUST_ANCHOR_ARN,
    });
    const headers: Array<[string, string]> = [
      ['Content-Type', 'application/json'],
      ['Host', 'rolesanywhere.us-east-1.amazonaws.com'],
      ['X-Amz-Date', date],
      ['X-Amz-X509', pki.leafEc256.cert.raw.toString('base64')],
    ];
    const signed = signableHeaderNames(headers);
    const canonical = canonicalRequest({ method: 'POST', path: '/sessions', query: [], headers, signedHeaders: signed, body });
    const scope = credentialScope(date, 'us-east-1');
    const sig = signBytes(signer.kind, pki.leafEc256.key, Buffer.from(stringToSign(signer.algorithm, date, scope, canonical))).toString('hex');
    headers.push(['Authorization', authorizationHeader(signer.algorithm, decimalSerial(pki.leafEc256.cert), scope, signed, sig)]);
    const r = verifyCreateSession({ method: 'POST', path: '/sessions', rawQuery: '', headers, body: Buffer.from(body) }, config, TEST_NOW);
    assertAccepted(r);
    assert.equal(r.params.durationSeconds, 1800);
    assert.equal(r.params.profileArn, DEFAULT_PROFILE_ARN);
  });

  describe('rejections', () => {
    const base = { notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER };
    const leafUnder = (issuer: IssuedCertificate, o: Partial<Parameters<typeof issueCertificate>[0]> = {}): Promise<IssuedCertificate> =>
      issueCertificate({ ...base, subject: 'CN=case', keySpec: 'ec-p256', ...o }, issuer);

    test('an expired leaf', async () => {
      const leaf = await leafUnder(pki.root, { notAfter: new Date('2025-06-01T00:00:00Z') });
      assertRejected(verifyCreateSession(received(signWith(leaf)), config, TEST_NOW), 403, /signing certificate .* has expired/);
    });

    test('a leaf that is not valid yet', async () => {
      const leaf = await leafUnder(pki.root, { notBefore: new Date('2027-01-01T00:00:00Z') });
      assertRejected(verifyCreateSession(received(signWith(leaf)), config, TEST_NOW), 403, /not valid yet/);
    });

    test('an expired intermediate', async () => {
      const inter = await issueCertificate(
        { ...base, notAfter: new Date('2025-12-01T00:00:00Z'), subject: 'CN=Old Intermediate', keySpec: 'ec-p256', isCa: true },
        pki.root,
      );
      const leaf = await leafUnder(inter);
      assertRejected(
        verifyCreateSession(received(signWith(leaf, { chain: [inter.cert] })), config, TEST_NOW),
        403,
        /intermediate #1 certificate .* has expired/,
      );
    });

    test('a CA certificate used as the signing certificate', () => {
      assertRejected(verifyCreateSession(received(signWith(pki.intermediate)), config, TEST_NOW), 403, /is a CA certificate/);
    });

    test('a leaf whose keyUsage lacks digitalSignature', async () => {
      const leaf = await leafUnder(pki.root, { keyUsage: KeyUsageFlags.keyAgreement });
      assertRejected(verifyCreateSession(received(signWith(leaf)), config, TEST_NOW), 403, /keyUsage extension without digitalSignature/);
    });

    test('an intermediate that is not a CA', async () => {
      const notCa = await leafUnder(pki.root, { subject: 'CN=not a CA' });
      const leaf = await leafUnder(notCa);
      const r = verifyCreateSession(received(signWith(leaf, { chain: [notCa.cert] })), config, TEST_NOW);
      assertRejected(r, 403, /not issued by intermediate #1|intermediate #1 certificate .* is not a CA/);
    });

    test('a leaf from an unknown root', async () => {
      const otherRoot = await issueCertificate({ ...base, subject: 'CN=Emulator Test Root,O=Example', keySpec: 'ec-p384', isCa: true });
      const leaf = await leafUnder(otherRoot);
      assertRejected(verifyCreateSession(received(signWith(leaf)), config, TEST_NOW), 403, /untrusted signing certificate/);
    });

    test('a missing intermediate', () => {
      assertRejected(verifyCreateSession(received(signWith(pki.leafRsa)), config, TEST_NOW), 403, /untrusted signing certificate/);
    });

    test('intermediates in the wrong order', async () => {
      const i1 = await issueCertificate({ ...base, subject: 'CN=Level 1', keySpec: 'ec-p256', isCa: true }, pki.root);
      const i2 = await issueCertificate({ ...base, subject: 'CN=Level 2', keySpec: 'ec-p256', isCa: true }, i1);
      const leaf = await leafUnder(i2);
      assertAccepted(verifyCreateSession(received(signWith(leaf, { chain: [i2.cert, i1.cert] })), config, TEST_NOW));
      assertRejected(verifyCreateSession(received(signWith(leaf, { chain: [i1.cert, i2.cert] })), config, TEST_NOW), 403, /issuing order/);
    });

    test('a chain longer than the pathLenConstraint allows', async () => {
      // pki.intermediate has pathLen 0, so no CA may sit between it and the leaf.
      const sub = await issueCertificate({ ...base, subject: 'CN=Too Deep', keySpec: 'ec-p256', isCa: true }, pki.intermediate);
      const leaf = await leafUnder(sub);
      assertRejected(verifyCreateSession(received(signWith(leaf, { chain: [sub.cert, pki.intermediate.cert] })), config, TEST_NOW), 403, /pathLenConstraint/);
    });

    test('durations outside 900..43200 and over the profile maximum', () => {
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { durationSeconds: 899 } })), config, TEST_NOW),
        400,
        /durationSeconds 899 is out of range/,
      );
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { durationSeconds: 43201 } })), config, TEST_NOW),
        400,
        /durationSeconds 43201 is out of range/,
      );
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { durationSeconds: 3601 } })), config, TEST_NOW),
        400,
        /exceeds the profile's maximum of 3600/,
      );
      const long = defaultEmulatorConfig({ roots: [pki.root.cert], maxDurationSeconds: 43200 });
      assertAccepted(verifyCreateSession(received(signWith(pki.leafEc256, { params: { durationSeconds: 43200 } })), long, TEST_NOW));
    });

    test('a non-integer duration', () => {
      const s = received(signWith(pki.leafEc256));
      const r = verifyCreateSession({ ...s, body: Buffer.from('{"durationSeconds":"3600"}') }, config, TEST_NOW);
      assertRejected(r, 400, /whole number/);
    });

    test('a region in the scope other than the emulator and trust anchor region', () => {
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { region: 'us-west-2' })), config, TEST_NOW),
        403,
        /scope region "us-west-2".*us-east-1/,
      );
    });

    test('the serial in hex or with leading zeros', async () => {
      const leaf = await leafUnder(pki.root, { serialHex: '7a0b1c2d3e4f5a6b7c8d9eafbacbdced' });
      assertAccepted(verifyCreateSession(received(signWith(leaf)), config, TEST_NOW));
      assertRejected(verifyCreateSession(received(signWith(leaf, { serialDecimal: '7a0b1c2d3e4f5a6b7c8d9eafbacbdced' })), config, TEST_NOW), 403, /decimal/);
      assertRejected(verifyCreateSession(received(signWith(leaf, { serialDecimal: `00${decimalSerial(leaf.cert)}` })), config, TEST_NOW), 403, /leading zeros/);
      assertRejected(
        verifyCreateSession(received(signWith(leaf, { serialDecimal: '12345' })), config, TEST_NOW),
        403,
        /is not the signing certificate's serial/,
      );
    });

    test('a role not in the profile', () => {
      const r = verifyCreateSession(received(signWith(pki.leafEc256, { params: { roleArn: 'arn:aws:iam::123456789012:role/other' } })), config, TEST_NOW);
      assertRejected(r, 403, /is not one of the roles/);
    });

    test('a disabled profile or trust anchor', () => {
      const disabledProfile: EmulatorConfig = { ...config, profiles: config.profiles.map((p) => ({ ...p, enabled: false })) };
      assertRejected(verifyCreateSession(received(signWith(pki.leafEc256)), disabledProfile, TEST_NOW), 403, /profile .* is disabled/);
      const disabledAnchor: EmulatorConfig = { ...config, trustAnchors: config.trustAnchors.map((t) => ({ ...t, enabled: false })) };
      assertRejected(verifyCreateSession(received(signWith(pki.leafEc256)), disabledAnchor, TEST_NOW), 403, /trust anchor .* is disabled/);
    });

    test('a roleSessionName the profile does not accept', () => {
      const strict: EmulatorConfig = { ...config, profiles: config.profiles.map((p) => ({ ...p, acceptRoleSessionName: false })) };
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { roleSessionName: 'mine' } })), strict, TEST_NOW),
        400,
        /does not accept a roleSessionName/,
      );
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { roleSessionName: 'has space' } })), config, TEST_NOW),
        400,
        /roleSessionName/,
      );
    });

    test('malformed ARNs', () => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ profileArn: 'arn:aws:rolesanywhere:us-east-1:1234:profile/x' }, /profileArn .* is not a profile ARN/],
        [{ trustAnchorArn: DEFAULT_PROFILE_ARN }, /trustAnchorArn .* is not a trust anchor ARN/],
        [{ roleArn: 'arn:aws:iam::123456789012:user/alice' }, /roleArn .* is not an IAM role ARN/],
        [{ profileArn: '' }, /profileArn is missing/],
      ];
      for (const [params, pattern] of cases) {
        assertRejected(verifyCreateSession(received(signWith(pki.leafEc256, { params })), config, TEST_NOW), 400, pattern);
      }
    });

    test('unknown trust anchor or profile, or one in another region', () => {
      const ta = DEFAULT_TRUST_ANCHOR_ARN.replace(/.$/, '0');
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { trustAnchorArn: ta } })), config, TEST_NOW),
        404,
        /trust anchor .* does not exist/,
      );
      const pr = DEFAULT_PROFILE_ARN.replace(/.$/, '0');
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { profileArn: pr } })), config, TEST_NOW),
        404,
        /profile .* does not exist/,
      );
      const west = DEFAULT_TRUST_ANCHOR_ARN.replace('us-east-1', 'us-west-2');
      assertRejected(
        verifyCreateSession(received(signWith(pki.leafEc256, { params: { trustAnchorArn: west } })), config, TEST_NOW),
        404,
        /not in this endpoint's region us-east-1/,
      );
    });

    test('clock skew beyond 5 minutes', () => {
      const s = received(signWith(pki.leafEc256, { nowMs: TEST_NOW - 6 * 60_000 }));
      assertRejected(verifyCreateSession(s, config, TEST_NOW), 403, /signature expired/);
      const tight: EmulatorConfig = { ...config, maxClockSkewMs: 1000 };
      assertRejected(verifyCreateSession(received(signWith(pki.leafEc256, { nowMs: TEST_NOW + 2000 })), tight, TEST_NOW), 403, /not yet current/);
    });

    test('a chain header that is not signed, or not a certificate', () => {
      const s = received(signWith(pki.leafRsa, { chain: [pki.intermediate.cert] }));
      const unsignedChain = received(signWith(pki.leafRsa));
      const withChain: ReceivedRequest = {
        ...unsignedChain,
        headers: [...unsignedChain.headers, ['X-Amz-X509-Chain', pki.intermediate.cert.raw.toString('base64')]],
      };
      assertRejected(verifyCreateSession(withChain, config, TEST_NOW), 403, /SignedHeaders does not include x-amz-x509-chain/);
      assertRejected(verifyCreateSession(setHeader(s, 'X-Amz-X509-Chain', `${headerOf(s, 'X-Amz-X509-Chain')}, `), config, TEST_NOW), 403, /Chain entry #2/);
      assertRejected(
        verifyCreateSession(setHeader(s, 'X-Amz-X509', Buffer.from(pki.leafRsa.certPem).toString('base64')), config, TEST_NOW),
        403,
        /not a base64-encoded DER/,
      );
    });

    test('missing or malformed authentication parts', () => {
      const s = received(signWith(pki.leafEc256));
      const without = (name: string): ReceivedRequest => ({ ...s, headers: s.headers.filter(([k]) => k.toLowerCase() !== name) });
      assertRejected(verifyCreateSession(without('authorization'), config, TEST_NOW), 403, /no Authorization header/);
      assertRejected(verifyCreateSession(without('x-amz-date'), config, TEST_NOW), 403, /no X-Amz-Date/);
      assertRejected(verifyCreateSession(without('x-amz-x509'), config, TEST_NOW), 403, /no X-Amz-X509 header/);
      assertRejected(verifyCreateSession(setHeader(s, 'Authorization', 'Bearer abc'), config, TEST_NOW), 403, /malformed/);
      assertRejected(verifyCreateSession(setHeader(s, 'X-Amz-Date', '2026-01-15T12:00:00Z'), config, TEST_NOW), 403, /YYYYMMDDTHHMMSSZ/);
      const auth = headerOf(s, 'Authorization');
      assertRejected(
        verifyCreateSession(setHeader(s, 'Authorization', auth.replace('AWS4-X509-ECDSA-SHA256', 'AWS4-HMAC-SHA256')), config, TEST_NOW),
        403,
        /not supported/,
      );
      assertRejected(
        verifyCreateSession(setHeader(s, 'Authorization', auth.replace('content-type;', '')), config, TEST_NOW),
        403,
        /does not include content-type/,
      );
      assertRejected(
        verifyCreateSession(setHeader(s, 'Authorization', auth.replace('content-type;host', 'host;content-type')), config, TEST_NOW),
        403,
        /sorted/,
      );
      const dup: ReceivedRequest = { ...s, headers: [...s.headers, ['x-amz-date', headerOf(s, 'x-amz-date')]] };
      assertRejected(verifyCreateSession(dup, config, TEST_NOW), 400, /x-amz-date appears 2 times/);
    });

    test('bodies that are not JSON objects, or too large', () => {
      const s = received(signWith(pki.leafEc256));
      assertRejected(verifyCreateSession({ ...s, body: Buffer.from('durationSeconds=3600') }, config, TEST_NOW), 400, /not valid JSON/);
      assertRejected(verifyCreateSession({ ...s, body: Buffer.from('[3600]') }, config, TEST_NOW), 400, /JSON object/);
      assertRejected(verifyCreateSession({ ...s, body: Buffer.alloc(64 * 1024 + 1, 0x20) }, config, TEST_NOW), 400, /more than the 65536/);
    });

    test('another path', () => {
      assertRejected(
        verifyCreateSession({ ...received(signWith(pki.leafEc256)), path: '/session' }, config, TEST_NOW),
        404,
        /CreateSession is POST \/sessions/,
      );
    });
  });
});

/** ML-DSA keys need Node >= 24.7; on older runtimes this test is skipped. */
function mlDsaAvailable(): boolean {
  try {
    generateKeyPairSync('ml-dsa-65' as never);
    return true;
  } catch {
    return false;
  }
}

test('round trip with an ML-DSA-65 leaf (AWS4-X509-MLDSA)', { skip: mlDsaAvailable() ? false : 'needs Node >= 24.7 for ML-DSA' }, async () => {
  const pki = await createTestPki();
  const { publicKey, privateKey } = generateKeyPairSync('ml-dsa-65' as never);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const generated = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '51a2b3c4d5e6f708',
      subject: 'CN=workload-mldsa',
      issuer: new x509.X509Certificate(pki.root.cert.raw).subject,
      notBefore: PKI_NOT_BEFORE,
      notAfter: PKI_NOT_AFTER,
      publicKey: new Uint8Array(spki),
      signingKey: pki.root.cryptoKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } as never,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    webcrypto,
  );
  const cert = new X509Certificate(Buffer.from(generated.rawData));
  const leaf = { cert, key: privateKey } as unknown as IssuedCertificate;
  const config = defaultEmulatorConfig({ roots: [pki.root.cert] });
  const r = verifyCreateSession(received(signWith(leaf)), config, TEST_NOW);
  assertAccepted(r);
  assert.equal(r.algorithm, 'AWS4-X509-MLDSA');
  const s = received(signWith(leaf));
  assertRejected(verifyCreateSession({ ...s, body: Buffer.from('{"durationSeconds":901}') }, config, TEST_NOW), 403, /invalid signature/);
});
