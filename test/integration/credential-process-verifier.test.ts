/**
 * The independent verifier's own correctness, established without the sidecar's signer: it
 * must accept the two requests captured from AWS's official helper (test/fixtures/vectors/)
 * replayed byte for byte, and reject them once any signed byte changes, the clock moves, or
 * the scope, serial or trust anchor is wrong. Run under every python3 on the machine.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { availablePythons, rawRequest, startVerifier, type RunningVerifier, type VerifierOptions } from '../helpers/independent-verifier.js';

const VECTORS = fileURLToPath(new URL('../../../test/fixtures/vectors/', import.meta.url));

interface Capture {
  readonly dir: string;
  readonly amzDate: string;
  readonly trustAnchorArn: string;
  readonly query: string;
  readonly authorization: string;
}

const PROFILE = 'arn:aws:rolesanywhere:us-east-2:291738886548:profile/6f4943fb-13d4-4242-89c4-be367595c380';
const ROLE = 'arn:aws:iam::291738886548:role/rolesanywhere1';
const ECDSA_TA = 'arn:aws:rolesanywhere:us-east-2:291738886548:trust-anchor/1cb4e36e-e4ad-4bbb-9b37-fdafb2cbe4fe';
const RSA_TA = 'arn:aws:rolesanywhere:us-east-2:291738886548:trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da';
const enc = (s: string): string => encodeURIComponent(s);
const queryFor = (ta: string): string => `profileArn=${enc(PROFILE)}&roleArn=${enc(ROLE)}&trustAnchorArn=${enc(ta)}`;

// Copied from the READMEs in test/fixtures/vectors/ (the official helper's own requests).
const ECDSA: Capture = {
  dir: `${VECTORS}ecdsa-capture/`,
  amzDate: '20240706T143004Z',
  trustAnchorArn: ECDSA_TA,
  query: queryFor(ECDSA_TA),
  authorization:
    'AWS4-X509-ECDSA-SHA256 Credential=3/20240706/us-east-2/rolesanywhere/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=3065023100cacc4b06cc8de2a5a11daf3e0a03423da6b7ad17dc4f54cbafe0102824f36c65ed6c04554e5864f31eea0f4b0d2c496d02302f600f65512e17a454a9b10b5b0aaf2882a37cc4bab3e14c0ee3c627b5f02bbe457126471c186712e4650e2bbe6db273',
};
const RSA: Capture = {
  dir: `${VECTORS}rsa-capture/`,
  amzDate: '20240706T113859Z',
  trustAnchorArn: RSA_TA,
  query: queryFor(RSA_TA),
  authorization:
    'AWS4-X509-RSA-SHA256 Credential=21/20240706/us-east-2/rolesanywhere/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=500d79d98f50408908db67bd9b794cef9233768063c301d520a792cfc1e84644386a908e67e88003cc98478ae3fec8cd8fd7c42a137b7d338d8d58f250f58a78faa0530a5e90a16be0a98b53162e4dd4b124a753fdcd007f106f82346f424024399fe8af0cb95dbf0601ce37c12747c35f8c1f2ac03289982de9fecfb15a0186575ba2040329ccedc7526b339367b39b76a1b9b834622af0fd7cc11c5fe458ce62da3a7b4fbede02a921134498c50992267249a28d3defd2cb31a7927cdbba56e02f3ce027aadcd60449b6274e3daef6766163a2eb848e4339e7f9ca88b36c83edd6ef28952b10dec2a97eee7780a07d15f8a4b707211c3445b0b367dffff45d',
};

/** The fixture files hold `openssl x509 -text` output before the PEM; X509Certificate takes the PEM part. */
function leafDerBase64(c: Capture): string {
  const text = readFileSync(`${c.dir}leaf.crt`, 'utf8');
  return new X509Certificate(text.slice(text.indexOf('-----BEGIN CERTIFICATE-----'))).raw.toString('base64');
}

interface Replay {
  query?: string;
  headers?: Record<string, string>;
  body?: string;
}

function headersOf(c: Capture): Record<string, string> {
  return {
    Host: '127.0.0.1:8080',
    'Content-Type': 'application/json',
    'X-Amz-Date': c.amzDate,
    'X-Amz-X509': leafDerBase64(c),
    Authorization: c.authorization,
  };
}

async function replay(v: RunningVerifier, c: Capture, r: Replay = {}): Promise<{ status: number; type: string | undefined; body: Record<string, unknown> }> {
  const res = await rawRequest(`${v.endpoint}/sessions?${r.query ?? c.query}`, {
    headers: r.headers ?? headersOf(c),
    body: r.body ?? '{"durationSeconds":3600}',
  });
  const type = res.headers['x-amzn-errortype'];
  return { status: res.status, type: Array.isArray(type) ? type[0] : type, body: JSON.parse(res.body.toString('utf8')) as Record<string, unknown> };
}

function optionsFor(c: Capture, python: string, extra: Partial<VerifierOptions> = {}): VerifierOptions {
  return {
    trustAnchorPath: `${c.dir}root-ca.crt`,
    region: 'us-east-2',
    trustAnchorArn: c.trustAnchorArn,
    profileArn: PROFILE,
    roleArn: ROLE,
    now: c.amzDate,
    python,
    ...extra,
  };
}

function assertDenied(r: { status: number; type: string | undefined; body: Record<string, unknown> }, why: RegExp): void {
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.type, 'AccessDeniedException');
  assert.match(String(r.body.message), why);
}

function assertIssued(r: { status: number; body: Record<string, unknown> }): void {
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const set = r.body.credentialSet as Array<{ credentials: Record<string, string>; roleArn: string }>;
  assert.equal(set.length, 1);
  assert.match(set[0]!.credentials.accessKeyId!, /^ASIA[A-Z0-9]{16}$/);
  assert.match(set[0]!.credentials.expiration!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(set[0]!.roleArn, ROLE);
  assert.match(String(r.body.subjectArn), /^arn:aws:rolesanywhere:us-east-2:291738886548:subject\//);
}

for (const python of availablePythons()) {
  describe(`independent verifier under ${python}`, { concurrency: 2 }, () => {
    const running: RunningVerifier[] = [];
    const start = async (o: VerifierOptions): Promise<RunningVerifier> => {
      const v = await startVerifier(o);
      running.push(v);
      return v;
    };
    after(async () => {
      await Promise.all(running.map((v) => v.stop()));
    });

    test('ECDSA P-384 capture: accepted at its instant, rejected once anything signed changes', async () => {
      const v = await start(optionsFor(ECDSA, python, { maxDuration: 43200 }));
      assertIssued(await replay(v, ECDSA));
      // Canonicalisation, not byte equality: the same request with the query unencoded and
      // reordered, and padded header values, still verifies.
      const loose = `trustAnchorArn=${ECDSA_TA}&roleArn=${ROLE}&profileArn=${PROFILE}`;
      assertIssued(await replay(v, ECDSA, { query: loose, headers: { ...headersOf(ECDSA), 'Content-Type': '  application/json  ' } }));

      assertDenied(await replay(v, ECDSA, { body: '{"durationSeconds":3601}' }), /invalid signature/);
      assertDenied(await replay(v, ECDSA, { headers: { ...headersOf(ECDSA), Host: '127.0.0.1:8081' } }), /invalid signature/);
      assertDenied(await replay(v, ECDSA, { query: queryFor(ECDSA_TA).replace('rolesanywhere1', 'rolesanywhere2') }), /invalid signature/);
      const sig = ECDSA.authorization.slice(-8);
      const flipped = ECDSA.authorization.slice(0, -8) + (sig.startsWith('0') ? '1' : '0') + sig.slice(1);
      assertDenied(await replay(v, ECDSA, { headers: { ...headersOf(ECDSA), Authorization: flipped } }), /invalid signature/);
      assertDenied(await replay(v, ECDSA, { headers: { ...headersOf(ECDSA), 'X-Amz-Date': '20240706T143005Z' } }), /invalid signature/);
      assertDenied(
        await replay(v, ECDSA, { headers: { ...headersOf(ECDSA), Authorization: ECDSA.authorization.replace('Credential=3/', 'Credential=4/') } }),
        /serial 4 is not the leaf serial 3/,
      );
      assertDenied(
        await replay(v, ECDSA, { headers: { ...headersOf(ECDSA), Authorization: ECDSA.authorization.replace('/us-east-2/', '/us-east-1/') } }),
        /scope region/,
      );
      assertDenied(
        await replay(v, ECDSA, {
          headers: {
            ...headersOf(ECDSA),
            Authorization: ECDSA.authorization.replace('SignedHeaders=content-type;host;x-amz-date;x-amz-x509', 'SignedHeaders=content-type;host;x-amz-date'),
          },
        }),
        /SignedHeaders does not include x-amz-x509/,
      );
      assertDenied(await replay(v, ECDSA, { headers: { ...headersOf(ECDSA), 'X-Amz-X509': leafDerBase64(RSA) } }), /serial 3 is not the leaf serial 21/);
      const invalid = await replay(v, ECDSA, { body: '{"durationSeconds":100}' });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.type, 'ValidationException');
      assert.match(String(invalid.body.message), /durationSeconds 100/);
    });

    test('ECDSA capture: refused by the real clock (X-Amz-Date years old) and by another trust anchor', async () => {
      const now = await start(optionsFor(ECDSA, python, { now: undefined }));
      assertDenied(await replay(now, ECDSA), /signature expired/);
      const otherRoot = await start(optionsFor(ECDSA, python, { trustAnchorPath: `${RSA.dir}root-ca.crt` }));
      assertDenied(await replay(otherRoot, ECDSA), /untrusted certificate chain/);
    });

    test('RSA capture: accepted at its instant, rejected with a changed body', async () => {
      const v = await start(optionsFor(RSA, python));
      assertIssued(await replay(v, RSA));
      assertDenied(await replay(v, RSA, { body: '{"durationSeconds":900}' }), /invalid signature/);
      // The ECDSA capture's Authorization over the RSA certificate: wrong algorithm for the key.
      assertDenied(
        await replay(v, RSA, { headers: { ...headersOf(RSA), Authorization: RSA.authorization.replace('AWS4-X509-RSA-SHA256', 'AWS4-X509-ECDSA-SHA256') } }),
        /does not match the certificate key/,
      );
      const log = await v.log();
      assert.deepEqual(
        log.map((e) => e.status),
        [201, 403, 403],
      );
      assert.equal(log[0]!.algorithm, 'AWS4-X509-RSA-SHA256');
      assert.equal(log[0]!.serial, '21');
    });
  });
}
