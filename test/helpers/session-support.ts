/**
 * Test-only helpers for the session tests: a throwaway workload identity, a throwaway CA
 * with a server certificate for 127.0.0.1, and scripted HTTP(S) servers on port 0.
 * Lives under test/ so it never ships with the product code.
 */
import { KeyObject, X509Certificate, createHash, webcrypto } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { Identity } from '../../src/core/identity.js';
import { createKeySigner, verifyBytes } from '../../src/identity/key-signer.js';
import { canonicalRequest, parseAuthorization, stringToSign } from '../../src/signing/canonical.js';

// Passed to each generator call, so the library's global provider is never touched.
const wc = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestIdentity {
  readonly identity: Identity;
  readonly publicKey: KeyObject;
}

type KeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

async function ecKeys(): Promise<KeyPair> {
  return await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
}

/** A self-signed EC P-256 workload certificate and its signer. */
export async function makeTestIdentity(serialHex = '0a1b2c3d', cn = 'test-workload'): Promise<TestIdentity> {
  const keys = await ecKeys();
  const notBefore = new Date(Date.UTC(2024, 0, 1));
  const notAfter = new Date(Date.UTC(2099, 0, 1));
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    { serialNumber: serialHex, name: `CN=${cn}`, notBefore, notAfter, keys, signingAlgorithm: EC },
    wc,
  );
  const der = Buffer.from(cert.rawData);
  const certificate = new X509Certificate(der);
  const privateKey = KeyObject.from(keys.privateKey);
  const publicKey = KeyObject.from(keys.publicKey);
  return {
    identity: {
      certificate,
      chain: [],
      signer: createKeySigner(privateKey),
      serialDecimal: BigInt(`0x${certificate.serialNumber}`).toString(10),
      notBefore: notBefore.getTime(),
      notAfter: notAfter.getTime(),
      fingerprint: createHash('sha256').update(der).digest('hex'),
    },
    publicKey,
  };
}

export interface TestTlsMaterial {
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
}

/** A throwaway root CA and a server certificate for 127.0.0.1 / localhost issued by it. */
export async function makeTestTls(): Promise<TestTlsMaterial> {
  const caKeys = await ecKeys();
  const serverKeys = await ecKeys();
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=session-test-root',
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    wc,
  );
  const server = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '02',
      subject: 'CN=127.0.0.1',
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      ],
    },
    wc,
  );
  const serverKeyPem = KeyObject.from(serverKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { caPem: ca.toString('pem'), serverCertPem: server.toString('pem'), serverKeyPem };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

export type Script = (req: RecordedRequest, res: http.ServerResponse, n: number) => void;

export interface TestServer {
  readonly port: number;
  readonly host: string;
  readonly origin: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A scripted server on 127.0.0.1:0; `script` gets each request (n is 1-based). */
export async function startServer(script: Script, tlsMaterial?: { cert: string; key: string }): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      script(rec, res, requests.length);
    });
  };
  const server = tlsMaterial ? https.createServer({ cert: tlsMaterial.cert, key: tlsMaterial.key }, handler) : http.createServer(handler);
  // TLS handshake failures are expected in some tests; keep them off stderr.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const scheme = tlsMaterial ? 'https' : 'http';
  return {
    port,
    host: `127.0.0.1:${port}`,
    origin: `${scheme}://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Checks a received CreateSession request's signature the way the service does: rebuild
 * the canonical request from what arrived, then verify with the leaf's public key.
 */
export function verifyReceivedSignature(req: RecordedRequest, publicKey: KeyObject): boolean {
  const auth = parseAuthorization(String(req.headers.authorization ?? ''));
  if (!auth) return false;
  const date = String(req.headers['x-amz-date'] ?? '');
  const u = new URL(req.url, 'http://x');
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  const canonical = canonicalRequest({
    method: req.method,
    path: u.pathname,
    query: [...u.searchParams.entries()],
    headers,
    signedHeaders: auth.signedHeaders,
    body: req.body,
  });
  const scope = `${auth.date}/${auth.region}/${auth.service}/${auth.terminator}`;
  const sts = stringToSign('AWS4-X509-ECDSA-SHA256', date, scope, canonical);
  return verifyBytes('EC', publicKey, Buffer.from(sts, 'utf8'), Buffer.from(auth.signatureHex, 'hex'));
}

export const TEST_ARNS = {
  trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a545a1fc-5d86-4032-8f4c-61cdd6ff92da',
  profileArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/6f4943fb-13d4-4242-89c4-be367595c380',
  roleArn: 'arn:aws:iam::123456789012:role/test-role',
} as const;

/** Distinctive fake secrets, so tests can grep messages and logs for them. */
export const TEST_SECRETS = {
  accessKeyId: 'ASIATESTACCESSKEY123',
  secretAccessKey: 'SECRETsecretSECRETsecret/0123456789abcdef',
  sessionToken: 'TOKENtokenTOKENtoken+0123456789abcdefTOKEN==',
} as const;

/** A well-formed CreateSession 201 body. */
export function sessionBody(expiration = '2030-01-01T00:00:00Z', overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    credentialSet: [
      {
        assumedRoleUser: {
          arn: 'arn:aws:sts::123456789012:assumed-role/test-role/0a1b2c3d',
          assumedRoleId: 'AROATEST:0a1b2c3d',
        },
        credentials: { ...TEST_SECRETS, expiration },
        packedPolicySize: 0,
        roleArn: TEST_ARNS.roleArn,
        sourceIdentity: 'CN=test-workload',
        ...overrides,
      },
    ],
    subjectArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:subject/41cl0bae-6783-40d4-ab20-65dc5d922e45',
  });
}
