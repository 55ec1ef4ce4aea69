/**
 * A small PKI builder: CAs and workload certificates for the emulator, certs-example/ and
 * the tests. Users run it (through `emulator --init-pki`) to try the sidecar offline with
 * certificates shaped like the ones Roles Anywhere accepts.
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export type KeySpec = 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ec-p256' | 'ec-p384' | 'ec-p521';

export interface IssuedCertificate {
  readonly cert: X509Certificate;
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  readonly key: KeyObject;
  readonly keySpec: KeySpec;
  /** Kept for issuing further certificates. */
  readonly cryptoKey: webcrypto.CryptoKey;
}

export interface IssueOptions {
  /** X.500 name, e.g. `CN=workload,O=Example`. */
  readonly subject: string;
  readonly keySpec: KeySpec;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex serial; by default 16 random bytes (positive), as public CAs issue them. */
  readonly serialHex?: string;
  readonly isCa?: boolean;
  readonly pathLength?: number;
  /**
   * For TLS server certificates (e.g. an HTTPS emulator): subjectAltName entries and the
   * serverAuth extended key usage. Clients match an IP or host name against the SAN only,
   * never the CN, so a server certificate without them is refused.
   */
  /** keyUsage flags (x509.KeyUsageFlags); by default keyCertSign|cRLSign for CAs, digitalSignature otherwise. */
  readonly keyUsage?: number;
  readonly serverNames?: { readonly dns?: readonly string[]; readonly ips?: readonly string[] };
}

function keyAlgorithm(spec: KeySpec): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  switch (spec) {
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ec-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'ec-p521':
      return { name: 'ECDSA', namedCurve: 'P-521' };
  }
}

function signingAlgorithm(spec: KeySpec): webcrypto.Algorithm | webcrypto.EcdsaParams {
  if (spec.startsWith('rsa')) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const hash = spec === 'ec-p256' ? 'SHA-256' : spec === 'ec-p384' ? 'SHA-384' : 'SHA-512';
  return { name: 'ECDSA', hash };
}

async function generateKeys(spec: KeySpec, subtle: webcrypto.SubtleCrypto): Promise<webcrypto.CryptoKeyPair> {
  const alg = keyAlgorithm(spec);
  const gen = alg.name === 'ECDSA' ? alg : { ...alg, modulusLength: Number(spec.slice(4)), publicExponent: new Uint8Array([1, 0, 1]) };
  return await subtle.generateKey(gen as webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams, true, ['sign', 'verify']);
}

/** 16 random bytes with the top bit clear so the DER INTEGER stays positive and 16 bytes long. */
export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return b.toString('hex');
}

/** Issues a certificate: self-signed when no issuer is given (a root CA). */
export async function issueCertificate(opts: IssueOptions, issuer?: IssuedCertificate): Promise<IssuedCertificate> {
  const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];
  const subtle = webcrypto.subtle;
  const keys = await generateKeys(opts.keySpec, subtle);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(opts.isCa === true, opts.isCa === true ? opts.pathLength : undefined, true),
    new x509.KeyUsagesExtension(
      opts.keyUsage ?? (opts.isCa === true ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature),
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
  ];
  if (opts.serverNames !== undefined) {
    const names = [
      ...(opts.serverNames.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(opts.serverNames.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
  } else if (opts.isCa !== true) {
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]));
  }
  const signer = issuer ?? undefined;
  if (signer !== undefined) {
    const issuerPublic = new x509.X509Certificate(signer.cert.raw).publicKey;
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerPublic, false, crypto));
  }
  const common = {
    serialNumber: opts.serialHex ?? randomSerialHex(),
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions,
  };
  const generated =
    signer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: opts.subject, keys, signingAlgorithm: signingAlgorithm(opts.keySpec) }, crypto)
      : await x509.X509CertificateGenerator.create(
          {
            ...common,
            subject: opts.subject,
            issuer: new x509.X509Certificate(signer.cert.raw).subject,
            publicKey: keys.publicKey,
            signingKey: signer.cryptoKey,
            signingAlgorithm: signingAlgorithm(signer.keySpec),
          },
          crypto,
        );
  const certDer = Buffer.from(generated.rawData);
  const cert = new X509Certificate(certDer);
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return {
    cert,
    certPem: cert.toString(),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    key,
    keySpec: opts.keySpec,
    cryptoKey: keys.privateKey,
  };
}

export interface CrlOptions {
  /** Hex serials to list as revoked. */
  readonly revokedSerialsHex: readonly string[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/** A CRL signed by `issuer` (a CA from issueCertificate), as PEM (`BEGIN X509 CRL`). */
export async function issueCrl(issuer: IssuedCertificate, opts: CrlOptions): Promise<string> {
  const crypto = webcrypto as unknown as Parameters<typeof x509.X509CrlGenerator.create>[1];
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: new x509.X509Certificate(issuer.cert.raw).subject,
      thisUpdate: opts.thisUpdate,
      nextUpdate: opts.nextUpdate,
      entries: opts.revokedSerialsHex.map((serialNumber) => ({ serialNumber, revocationDate: opts.thisUpdate })),
      signingKey: issuer.cryptoKey,
      signingAlgorithm: signingAlgorithm(issuer.keySpec),
    },
    crypto,
  );
  return crl.toString('pem');
}
