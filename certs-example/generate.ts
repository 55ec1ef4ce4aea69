/**
 * Writes the DEMO PKI in certs-example/: a root CA, an intermediate CA, an RSA leaf under
 * the intermediate and an EC leaf under the root, with pinned dates and serials so the
 * certificates' shape never changes between runs (the keys are new on every run).
 *
 *   node dist/certs-example/generate.js [output-dir]
 *
 * DEMO MATERIAL: the private keys are published with the repository. Never add these CAs
 * to a real trust anchor.
 */
// @peculiar/x509 (test PKIs, the emulator) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCertificate } from '../src/emulator/pki.js';

// Runs from dist/certs-example/; the files belong in the source tree's certs-example/.
const outDir = process.argv[2] ?? fileURLToPath(new URL('../../certs-example/', import.meta.url));

const LEAF_NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
const LEAF_NOT_AFTER = new Date('2035-01-01T00:00:00Z');
const CA_NOT_AFTER = new Date('2045-01-01T00:00:00Z');
const ORG = 'O=rolesanywhere-sidecar DEMO - DO NOT TRUST';

/** 16-byte serials spelling their role in ASCII, so `openssl x509 -serial` shows what a file is. */
function asciiSerial(label: string): string {
  if (label.length !== 16) throw new Error(`serial label "${label}" must be 16 characters`);
  return Buffer.from(label, 'ascii').toString('hex');
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const root = await issueCertificate({
    subject: `CN=DEMO Root CA,${ORG}`,
    keySpec: 'ec-p384',
    notBefore: LEAF_NOT_BEFORE,
    notAfter: CA_NOT_AFTER,
    serialHex: asciiSerial('DEMO-ROOT-CA-001'),
    isCa: true,
  });
  const intermediate = await issueCertificate(
    {
      subject: `CN=DEMO Intermediate CA,${ORG}`,
      keySpec: 'ec-p256',
      notBefore: LEAF_NOT_BEFORE,
      notAfter: CA_NOT_AFTER,
      serialHex: asciiSerial('DEMO-INTERMED-01'),
      isCa: true,
      pathLength: 0,
    },
    root,
  );
  const leafRsa = await issueCertificate(
    {
      subject: `CN=demo-workload-rsa,${ORG}`,
      keySpec: 'rsa-2048',
      notBefore: LEAF_NOT_BEFORE,
      notAfter: LEAF_NOT_AFTER,
      serialHex: asciiSerial('DEMO-LEAF-RSA-01'),
    },
    intermediate,
  );
  const leafEc = await issueCertificate(
    {
      subject: `CN=demo-workload-ec,${ORG}`,
      keySpec: 'ec-p256',
      notBefore: LEAF_NOT_BEFORE,
      notAfter: LEAF_NOT_AFTER,
      serialHex: asciiSerial('DEMO-LEAF-EC-001'),
    },
    root,
  );

  const files: Array<[string, string, number]> = [
    ['root-ca.pem', root.certPem, 0o644],
    ['intermediate-ca.pem', intermediate.certPem, 0o644],
    ['leaf-rsa.pem', leafRsa.certPem, 0o644],
    ['leaf-rsa.key', leafRsa.keyPem, 0o600],
    // What --intermediates takes for the RSA leaf.
    ['leaf-rsa-chain.pem', intermediate.certPem, 0o644],
    // Leaf then intermediate, for tools that want one file.
    ['leaf-rsa-fullchain.pem', `${leafRsa.certPem.trimEnd()}\n${intermediate.certPem}`, 0o644],
    ['leaf-ec.pem', leafEc.certPem, 0o644],
    ['leaf-ec.key', leafEc.keyPem, 0o600],
  ];
  for (const [name, content, mode] of files) {
    writeFileSync(join(outDir, name), content.endsWith('\n') ? content : `${content}\n`, { mode });
  }
  process.stdout.write(`wrote ${files.map(([n]) => n).join(', ')} to ${outDir}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`certs-example: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
