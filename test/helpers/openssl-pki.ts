/**
 * A PKI made with the `openssl` command line only (no sidecar code), valid now: a P-384 root,
 * an RSA-2048 intermediate, and leaves of each key type both directly under the root and
 * under the intermediate, with 20-byte serials. Plus every key and bundle format a user may
 * hand the sidecar, converted by openssl the way users do it. Tests that check the sidecar
 * against the independent verifier use this, so neither the certificates nor the checks come
 * from the code under test.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function openssl(args: readonly string[], o: { input?: string | Buffer; cwd?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'openssl',
      [...args],
      {
        encoding: 'buffer',
        maxBuffer: 16 * 1024 * 1024,
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        ...(o.cwd ? { cwd: o.cwd } : {}),
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${stderr.toString('utf8')}`));
        else resolve(stdout);
      },
    );
    // openssl exits without reading stdin for most commands; a late write must not EPIPE the test.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(o.input ?? '');
  });
}

export type LeafKind = 'rsa' | 'p256' | 'p384';

export interface OpensslLeaf {
  readonly name: string;
  readonly kind: LeafKind;
  readonly underIntermediate: boolean;
  /** Certificate PEM (the leaf alone). */
  readonly cert: string;
  /** Unencrypted PKCS#8 PEM key. */
  readonly key: string;
  /** Upper-case hex serial as openssl prints it. */
  readonly serialHex: string;
}

export interface OpensslPki {
  readonly dir: string;
  readonly rootPem: string;
  readonly intermediatePem: string;
  readonly leaves: Readonly<Record<string, OpensslLeaf>>;
}

const CONF = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_int]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

/** A positive 20-byte serial (top bit clear, next bit set so it really is 20 bytes). */
export function serial20(): string {
  const b = randomBytes(20);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex').toUpperCase();
}

function keygenArgs(kind: LeafKind): string[] {
  if (kind === 'rsa') return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
  return ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${kind === 'p256' ? 'P-256' : 'P-384'}`];
}

async function signCsr(dir: string, conf: string, csr: string, caCert: string, caKey: string, ext: string, out: string, serialHex: string): Promise<void> {
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-set_serial',
      `0x${serialHex}`,
      '-days',
      '30',
      '-sha256',
      '-extfile',
      conf,
      '-extensions',
      ext,
      '-out',
      out,
    ],
    { cwd: dir },
  );
}

export async function makeOpensslPki(dir: string): Promise<OpensslPki> {
  const conf = join(dir, 'openssl.cnf');
  writeFileSync(conf, CONF);
  const rootKey = join(dir, 'root.key');
  const rootPem = join(dir, 'root.pem');
  await openssl(['genpkey', ...keygenArgs('p384'), '-out', rootKey]);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    rootKey,
    '-config',
    conf,
    '-extensions',
    'v3_root',
    '-subj',
    '/O=Example/CN=OpenSSL Test Root',
    '-days',
    '30',
    '-sha384',
    '-set_serial',
    `0x${serial20()}`,
    '-out',
    rootPem,
  ]);
  const intKey = join(dir, 'int.key');
  const intCsr = join(dir, 'int.csr');
  const intermediatePem = join(dir, 'intermediate.pem');
  await openssl(['genpkey', ...keygenArgs('rsa'), '-out', intKey]);
  await openssl(['req', '-new', '-key', intKey, '-config', conf, '-subj', '/O=Example/CN=OpenSSL Test Intermediate', '-out', intCsr]);
  await signCsr(dir, conf, intCsr, rootPem, rootKey, 'v3_int', intermediatePem, serial20());

  const leaves: Record<string, OpensslLeaf> = {};
  const make = async (kind: LeafKind, underIntermediate: boolean): Promise<void> => {
    const name = `${kind}-${underIntermediate ? 'int' : 'root'}`;
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    const serialHex = serial20();
    await openssl(['genpkey', ...keygenArgs(kind), '-out', key]);
    await openssl(['req', '-new', '-key', key, '-config', conf, '-subj', `/O=Example/CN=${name} workload`, '-out', csr]);
    await signCsr(dir, conf, csr, underIntermediate ? intermediatePem : rootPem, underIntermediate ? intKey : rootKey, 'v3_leaf', cert, serialHex);
    leaves[name] = { name, kind, underIntermediate, cert, key, serialHex };
  };
  // Sequential: key generation is CPU-bound and the machine has two cores.
  for (const kind of ['rsa', 'p256', 'p384'] as const) {
    await make(kind, false);
    await make(kind, true);
  }
  return { dir, rootPem, intermediatePem, leaves };
}

/** Writes the formats of one leaf's key and certificate a user may have, made by openssl. */
export interface LeafFormats {
  readonly pkcs8: string;
  /** PKCS#1 (RSA) or SEC1 (EC): `openssl rsa -traditional` / `openssl ec`. */
  readonly traditional: string;
  readonly pkcs8Pbkdf2: string;
  readonly pkcs8Scrypt: string;
  /** Certificate then key in one PEM. */
  readonly combined: string;
  /** Leaf + intermediate (when it has one) + key in one PEM. */
  readonly combinedWithChain: string;
  /** Leaf then its intermediate in one PEM (no key). */
  readonly certWithChain: string;
  readonly certDer: string;
  /** OpenSSL 3 default PKCS#12 (AES-256-CBC, PBKDF2, SHA-256 MAC), with the password. */
  readonly p12: string;
  /** `-legacy` PKCS#12 (RC2/3DES, SHA-1 MAC), with the password. */
  readonly p12Legacy: string;
  /** Default PKCS#12 with an empty password. */
  readonly p12EmptyPassword: string;
  /** PKCS#12 without encryption or MAC (`-keypbe NONE -certpbe NONE -nomac`). */
  readonly p12NoEncryption: string;
}

export async function writeLeafFormats(pki: OpensslPki, leaf: OpensslLeaf, password: string): Promise<LeafFormats> {
  const base = join(pki.dir, leaf.name);
  const traditional = `${base}.trad.pem`;
  if (leaf.kind === 'rsa') await openssl(['rsa', '-in', leaf.key, '-traditional', '-out', traditional]);
  else await openssl(['ec', '-in', leaf.key, '-out', traditional]);
  const pkcs8Pbkdf2 = `${base}.pbkdf2.pem`;
  await openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256', '-in', leaf.key, '-passout', `pass:${password}`, '-out', pkcs8Pbkdf2]);
  const pkcs8Scrypt = `${base}.scrypt.pem`;
  await openssl(['pkcs8', '-topk8', '-scrypt', '-in', leaf.key, '-passout', `pass:${password}`, '-out', pkcs8Scrypt]);
  const certPem = readFileSync(leaf.cert, 'utf8');
  const keyPem = readFileSync(leaf.key, 'utf8');
  const chainPem = leaf.underIntermediate ? readFileSync(pki.intermediatePem, 'utf8') : '';
  const combined = `${base}.combined.pem`;
  writeFileSync(combined, certPem + keyPem, { mode: 0o600 });
  const combinedWithChain = `${base}.combined-chain.pem`;
  writeFileSync(combinedWithChain, certPem + chainPem + keyPem, { mode: 0o600 });
  const certWithChain = `${base}.chain.pem`;
  writeFileSync(certWithChain, certPem + chainPem);
  const certDer = `${base}.der`;
  await openssl(['x509', '-in', leaf.cert, '-outform', 'DER', '-out', certDer]);
  const chainArgs = leaf.underIntermediate ? ['-certfile', pki.intermediatePem] : [];
  const p12 = `${base}.p12`;
  await openssl(['pkcs12', '-export', '-in', leaf.cert, '-inkey', leaf.key, ...chainArgs, '-passout', `pass:${password}`, '-out', p12]);
  const p12Legacy = `${base}.legacy.p12`;
  await openssl(['pkcs12', '-export', '-legacy', '-in', leaf.cert, '-inkey', leaf.key, ...chainArgs, '-passout', `pass:${password}`, '-out', p12Legacy]);
  const p12EmptyPassword = `${base}.empty.p12`;
  await openssl(['pkcs12', '-export', '-in', leaf.cert, '-inkey', leaf.key, ...chainArgs, '-passout', 'pass:', '-out', p12EmptyPassword]);
  const p12NoEncryption = `${base}.noenc.p12`;
  await openssl([
    'pkcs12',
    '-export',
    '-keypbe',
    'NONE',
    '-certpbe',
    'NONE',
    '-nomac',
    '-in',
    leaf.cert,
    '-inkey',
    leaf.key,
    ...chainArgs,
    '-passout',
    'pass:',
    '-out',
    p12NoEncryption,
  ]);
  return {
    pkcs8: leaf.key,
    traditional,
    pkcs8Pbkdf2,
    pkcs8Scrypt,
    combined,
    combinedWithChain,
    certWithChain,
    certDer,
    p12,
    p12Legacy,
    p12EmptyPassword,
    p12NoEncryption,
  };
}

export interface TlsFiles {
  /** The CA that issued the server certificate: what --ca-bundle / AWS_CA_BUNDLE name. */
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** A TLS CA and a server certificate for 127.0.0.1 / localhost, made by openssl. */
export async function makeTlsServer(dir: string): Promise<TlsFiles> {
  const conf = join(dir, 'tls.cnf');
  writeFileSync(
    conf,
    `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`,
  );
  const caKey = join(dir, 'tls-ca.key');
  const caPath = join(dir, 'tls-ca.pem');
  const keyPath = join(dir, 'tls-server.key');
  const csr = join(dir, 'tls-server.csr');
  const certPath = join(dir, 'tls-server.pem');
  await openssl(['genpkey', ...keygenArgs('p256'), '-out', caKey]);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-config',
    conf,
    '-extensions',
    'v3_ca',
    '-subj',
    '/CN=OpenSSL Test TLS CA',
    '-days',
    '30',
    '-out',
    caPath,
  ]);
  await openssl(['genpkey', ...keygenArgs('p256'), '-out', keyPath]);
  await openssl(['req', '-new', '-key', keyPath, '-config', conf, '-subj', '/CN=127.0.0.1', '-out', csr]);
  await signCsr(dir, conf, csr, caPath, caKey, 'v3_server', certPath, serial20());
  return { caPath, certPath, keyPath };
}
