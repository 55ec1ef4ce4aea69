/**
 * An ML-DSA PKI made at test time with Node 24's Web Crypto (Node 20's OpenSSL 3.0 knows no
 * ML-DSA): an ML-DSA-65 root CA, which the emulator can use as its trust anchor, and one
 * end-entity certificate per parameter set (44, 65, 87) issued by it, each with a fresh
 * PKCS#8 key and a 20-byte serial. Same approach as test/fixtures/identity/generate-mldsa.mjs
 * (@peculiar/x509 on webcrypto), except that the committed fixture is a SELF-SIGNED
 * end-entity certificate, which no trust anchor can be made of.
 *
 * Node 20 tests call `writeMldsaPki`, which runs this file under Node 24:
 *   "$(npm run -s node24)" dist/test/helpers/mldsa-pki.js <dir>
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { node24Path } from './node24.js';

export const NODE24 = node24Path();
const SELF = fileURLToPath(import.meta.url);

export type MldsaVariant = 'ML-DSA-44' | 'ML-DSA-65' | 'ML-DSA-87';
export const MLDSA_VARIANTS: readonly MldsaVariant[] = ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'];
/** FIPS 204 signature sizes in bytes. */
export const MLDSA_SIGNATURE_BYTES: Readonly<Record<MldsaVariant, number>> = { 'ML-DSA-44': 2420, 'ML-DSA-65': 3309, 'ML-DSA-87': 4627 };

export interface MldsaLeaf {
  readonly cert: string;
  readonly key: string;
  readonly serialHex: string;
}

export interface MldsaPki {
  readonly caPath: string;
  readonly leaves: Readonly<Record<MldsaVariant, MldsaLeaf>>;
}

/** Generates the PKI into `dir` by running this module under `node` (Node >= 24.7). */
export function writeMldsaPki(dir: string, node = NODE24): Promise<MldsaPki> {
  return new Promise((resolve, reject) => {
    execFile(node, ['--no-warnings', SELF, dir], { timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ML-DSA PKI generation under ${node} failed: ${stderr}`));
      else resolve(JSON.parse(stdout) as MldsaPki);
    });
  });
}

function serial20(): string {
  const b = randomBytes(20);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

async function generate(dir: string): Promise<MldsaPki> {
  await import('reflect-metadata'); // tsyringe, under @peculiar/x509, needs it before the library loads
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto);
  // @types/node 20 does not know the ML-DSA Web Crypto algorithms; Node 24 does.
  type Key = webcrypto.CryptoKey;
  const subtle = webcrypto.subtle as unknown as {
    generateKey(alg: { name: string }, extractable: boolean, usages: string[]): Promise<{ publicKey: Key; privateKey: Key }>;
    exportKey(format: 'pkcs8', key: Key): Promise<ArrayBuffer>;
  };
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 30 * 86_400_000) };
  const caAlg = { name: 'ML-DSA-65' };
  const caKeys = await subtle.generateKey(caAlg, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial20(),
    name: 'CN=ML-DSA Test Root,O=Example',
    ...validity,
    keys: caKeys,
    signingAlgorithm: caAlg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caPath = join(dir, 'mldsa-root.pem');
  writeFileSync(caPath, ca.toString('pem'));
  const caCert = new X509Certificate(Buffer.from(ca.rawData));
  const leaves = {} as Record<MldsaVariant, MldsaLeaf>;
  for (const variant of MLDSA_VARIANTS) {
    const keys = await subtle.generateKey({ name: variant }, true, ['sign', 'verify']);
    const serialHex = serial20();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex,
      subject: `CN=${variant} workload,O=Example`,
      issuer: ca.subject,
      ...validity,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: caAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    const cert = new X509Certificate(Buffer.from(leaf.rawData));
    const key = createPrivateKey({ key: Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey)), format: 'der', type: 'pkcs8' });
    if (!cert.checkPrivateKey(key) || !cert.verify(caCert.publicKey)) throw new Error(`${variant}: generated certificate does not check out`);
    const certPath = join(dir, `${variant}.pem`);
    const keyPath = join(dir, `${variant}.key`);
    writeFileSync(certPath, cert.toString());
    writeFileSync(keyPath, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    leaves[variant] = { cert: certPath, key: keyPath, serialHex };
  }
  return { caPath, leaves };
}

if (process.argv[1] === SELF) {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: mldsa-pki.js <dir>');
  process.stdout.write(`${JSON.stringify(await generate(dir))}\n`);
}
