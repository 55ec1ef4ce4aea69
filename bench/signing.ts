/**
 * CreateSession signatures per second: the full signCreateSession (canonical request,
 * string to sign, signature) with createKeySigner, for each key type this Node.js can sign
 * with. ML-DSA needs Node >= 24.7, so bench/run.ts runs this script under Node 20 and under
 * Node 24 from `npm run node24` (test/helpers/node24.ts). Prints one JSON document.
 *
 *   node dist/bench/signing.js [--seconds 2]
 */
// @peculiar/x509 (test PKIs, the emulator) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { issueCertificate, type KeySpec } from '../src/emulator/pki.js';
import { createKeySigner } from '../src/identity/key-signer.js';
import { signCreateSession, type CreateSessionParams, type SigningIdentity } from '../src/signing/create-session.js';

export interface SigningResult {
  readonly key: string;
  readonly algorithm: string;
  readonly signatures: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly microsPerSignature: number;
  /** Why a key type was left out (e.g. ML-DSA on Node 20). */
  readonly skipped?: string;
}

export interface SigningReport {
  readonly node: string;
  readonly results: readonly SigningResult[];
}

const PARAMS: CreateSessionParams = {
  profileArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/6e2d4f8a-1c3b-4a5d-8e7f-9a0b1c2d3e4f',
  roleArn: 'arn:aws:iam::123456789012:role/rolesanywhere-demo',
  trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/0b7a9c3e-5d1f-4e2a-9b6c-8d4e2f1a3c5b',
  durationSeconds: 3600,
};
const HOST = 'rolesanywhere.us-east-1.amazonaws.com';
const MLDSA_CERT = fileURLToPath(new URL('../../test/fixtures/identity/mldsa65-cert.pem', import.meta.url));

function identity(certDer: Buffer, serialDecimal: string, key: KeyObject): SigningIdentity {
  return { certificateDer: certDer, chainDer: [], serialDecimal, signer: createKeySigner(key) };
}

async function classical(spec: KeySpec): Promise<SigningIdentity> {
  const now = Date.now();
  const issued = await issueCertificate({
    subject: `CN=bench ${spec}`,
    keySpec: spec,
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 86_400_000),
  });
  return identity(issued.cert.raw, BigInt(`0x${issued.cert.serialNumber}`).toString(10), issued.key);
}

/**
 * ML-DSA: the committed ML-DSA-65 fixture for -65; for -44 a fresh key with that same
 * certificate as the X-Amz-X509 payload (the signer never checks the pairing, and the
 * payload's size, which the canonical request hashes, is about the same).
 */
function mldsa(type: 'ml-dsa-44' | 'ml-dsa-65'): SigningIdentity {
  const cert = new X509Certificate(readFileSync(MLDSA_CERT));
  const key =
    type === 'ml-dsa-65'
      ? createPrivateKey(readFileSync(MLDSA_CERT.replace('-cert.pem', '-key.pem')))
      : (generateKeyPairSync as unknown as (t: string) => { privateKey: KeyObject })(type).privateKey;
  return identity(cert.raw, BigInt(`0x${cert.serialNumber}`).toString(10), key);
}

async function measure(name: string, id: SigningIdentity, seconds: number): Promise<SigningResult> {
  // A short warm-up so the JIT and OpenSSL's key setup are out of the measurement.
  const warmEnd = Date.now() + 200;
  while (Date.now() < warmEnd) await signCreateSession(id, PARAMS, 'us-east-1', HOST, Date.now());
  let n = 0;
  const start = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await signCreateSession(id, PARAMS, 'us-east-1', HOST, Date.now());
    n++;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { key: name, algorithm: id.signer.algorithm, signatures: n, seconds: elapsed, perSecond: n / elapsed, microsPerSignature: (elapsed * 1e6) / n };
}

export async function runSigningBench(seconds: number): Promise<SigningReport> {
  const results: SigningResult[] = [];
  for (const [name, spec] of [
    ['RSA-2048', 'rsa-2048'],
    ['EC P-256', 'ec-p256'],
    ['EC P-384', 'ec-p384'],
  ] as const) {
    results.push(await measure(name, await classical(spec), seconds));
  }
  for (const type of ['ml-dsa-44', 'ml-dsa-65'] as const) {
    const name = type.toUpperCase();
    let id: SigningIdentity;
    try {
      id = mldsa(type);
    } catch (e) {
      results.push({
        key: name,
        algorithm: 'AWS4-X509-MLDSA',
        signatures: 0,
        seconds: 0,
        perSecond: 0,
        microsPerSignature: 0,
        skipped: `not supported by Node ${process.version} (${(e as Error).message.slice(0, 80)})`,
      });
      continue;
    }
    results.push(await measure(name, id, seconds));
  }
  return { node: process.version, results };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
  const report = await runSigningBench(Number(values.seconds));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
