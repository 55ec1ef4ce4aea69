/**
 * Helpers for the emulator's tests: a small PKI with
 * pinned dates, and the glue between a signed request and what the verifier receives.
 * Lives under test/ so it never ships with the product code.
 */
import type { X509Certificate } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { describeKey, signBytes } from '../../src/identity/key-signer.js';
import { prepareCreateSession, withSignature, type CreateSessionParams, type SignedRequest } from '../../src/signing/create-session.js';
import { DEFAULT_PROFILE_ARN, DEFAULT_ROLE_ARN, DEFAULT_TRUST_ANCHOR_ARN } from '../../src/emulator/config.js';
import { issueCertificate, type IssuedCertificate, type KeySpec } from '../../src/emulator/pki.js';
import type { ReceivedRequest } from '../../src/emulator/verifier.js';

export const PKI_NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
export const PKI_NOT_AFTER = new Date('2035-01-01T00:00:00Z');
/** A time inside every test certificate's validity. */
export const TEST_NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

export interface TestPki {
  /** EC P-384 root CA. */
  readonly root: IssuedCertificate;
  /** RSA-2048 intermediate CA (pathLen 0) under the root. */
  readonly intermediate: IssuedCertificate;
  /** RSA-2048 leaf under the intermediate. */
  readonly leafRsa: IssuedCertificate;
  /** EC P-256 leaf directly under the root. */
  readonly leafEc256: IssuedCertificate;
  /** EC P-384 leaf under the intermediate. */
  readonly leafEc384: IssuedCertificate;
}

export async function createTestPki(): Promise<TestPki> {
  const base = { notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER };
  const root = await issueCertificate({ ...base, subject: 'CN=Emulator Test Root,O=Example', keySpec: 'ec-p384', isCa: true });
  const intermediate = await issueCertificate(
    { ...base, subject: 'CN=Emulator Test Intermediate,O=Example', keySpec: 'rsa-2048', isCa: true, pathLength: 0 },
    root,
  );
  const leaf = (cn: string, keySpec: KeySpec, issuer: IssuedCertificate): Promise<IssuedCertificate> =>
    issueCertificate({ ...base, subject: `CN=${cn},O=Example`, keySpec }, issuer);
  return {
    root,
    intermediate,
    leafRsa: await leaf('workload-rsa', 'rsa-2048', intermediate),
    leafEc256: await leaf('workload-ec256', 'ec-p256', root),
    leafEc384: await leaf('workload-ec384', 'ec-p384', intermediate),
  };
}

export const DEFAULT_PARAMS: CreateSessionParams = {
  profileArn: DEFAULT_PROFILE_ARN,
  roleArn: DEFAULT_ROLE_ARN,
  trustAnchorArn: DEFAULT_TRUST_ANCHOR_ARN,
  durationSeconds: 3600,
};

export interface SignOptions {
  readonly params?: Partial<CreateSessionParams>;
  readonly chain?: readonly X509Certificate[];
  readonly region?: string;
  readonly host?: string;
  readonly nowMs?: number;
  /** Overrides the serial written in the credential (to test wrong serial forms). */
  readonly serialDecimal?: string;
}

export function decimalSerial(cert: X509Certificate): string {
  return BigInt(`0x${cert.serialNumber}`).toString(10);
}

/** Signs a CreateSession with this project's request builder and key signing (synchronously, for table tests). */
export function signWith(leaf: IssuedCertificate, o: SignOptions = {}): SignedRequest {
  const { kind, algorithm } = describeKey(leaf.key);
  const prepared = prepareCreateSession(
    {
      certificateDer: leaf.cert.raw,
      chainDer: (o.chain ?? []).map((c) => c.raw),
      serialDecimal: o.serialDecimal ?? decimalSerial(leaf.cert),
      algorithm,
    },
    { ...DEFAULT_PARAMS, ...(o.params ?? {}) },
    o.region ?? 'us-east-1',
    o.host ?? '127.0.0.1:9999',
    o.nowMs ?? TEST_NOW,
  );
  return withSignature(prepared, signBytes(kind, leaf.key, Buffer.from(prepared.stringToSign, 'utf8')));
}

/** What the server would hand the verifier for this signed request. */
export function received(s: SignedRequest): ReceivedRequest {
  const q = s.pathAndQuery.indexOf('?');
  return {
    method: s.method,
    path: q < 0 ? s.pathAndQuery : s.pathAndQuery.slice(0, q),
    rawQuery: q < 0 ? '' : s.pathAndQuery.slice(q + 1),
    headers: s.headers.map(([k, v]) => [k, v] as [string, string]),
    body: Buffer.from(s.body, 'utf8'),
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Sends a request with exactly these headers (Host included) over a fresh connection.
 * Rejects on a network error (e.g. a dropped connection).
 */
export function sendRaw(
  base: URL,
  method: string,
  pathAndQuery: string,
  headers: ReadonlyArray<readonly [string, string]>,
  body: string | Buffer,
  tls?: { ca?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const opts = {
      method,
      host: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port,
      path: pathAndQuery,
      headers: Object.fromEntries(headers.map(([k, v]) => [k, v])),
      agent: false as const,
      ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
    };
    const req = (base.protocol === 'https:' ? httpsRequest : httpRequest)(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a signed CreateSession to a running emulator (the Host header is the signed one). */
export function sendSigned(base: URL, s: SignedRequest, tls?: { ca?: string }): Promise<RawResponse> {
  return sendRaw(base, s.method, s.pathAndQuery, s.headers, s.body, tls);
}
