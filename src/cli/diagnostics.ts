/**
 * The official helper's diagnostic commands: `sign-string` (sign stdin with the key, to
 * check that a key works) and `read-certificate-data` (what the service will see).
 */
import { sign, type KeyObject, type X509Certificate } from 'node:crypto';
import { SidecarError } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import type { KeyKind } from '../core/identity.js';
import { inputLabel, loadCertificateOnly, loadHardwareKeySigner, loadPrivateKey } from '../identity/index.js';
import { describeKey } from '../identity/key-signer.js';
import { identityConfigFrom, keyConfigFrom, loggerFrom } from './context.js';
import { writeOut, type CliIo } from './io.js';

/** stdin for sign-string is a test string, not a document: 1 MiB is plenty. */
const MAX_SIGN_INPUT = 1024 * 1024;

async function readStdin(io: CliIo): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > MAX_SIGN_INPUT) {
      throw new SidecarError('INPUT_TOO_LARGE', `sign-string reads at most ${MAX_SIGN_INPUT} bytes from standard input: sign a shorter string`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export async function signString(opts: Options, io: CliIo): Promise<number> {
  const logger = loggerFrom(opts, io, { command: 'sign-string' });
  const digest = (opts.str('digest') ?? 'SHA256').toUpperCase();
  const hash = ({ SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' } as Record<string, string>)[digest];
  if (hash === undefined) throw new SidecarError('CONFIG_INVALID', `${opts.origin('digest')} must be SHA256, SHA384 or SHA512, got "${digest}"`);
  const format = opts.str('format') ?? 'json';
  if (!['text', 'json', 'bin'].includes(format))
    throw new SidecarError('CONFIG_INVALID', `${opts.origin('format')} must be text, json or bin, got "${format}"`);
  const cfg = keyConfigFrom(opts);
  if (cfg.certificate?.kind === 'stdin' || cfg.privateKey?.kind === 'stdin') {
    throw new SidecarError('CONFIG_INVALID', 'sign-string reads the data to sign from standard input, so the key cannot come from "-"');
  }
  const deps = { clock: io.clock, logger, env: io.env };
  const hardware = await loadHardwareKeySigner(cfg, deps);
  let signature: Buffer;
  let kind: KeyKind;
  if (hardware !== undefined) {
    // Token and TPM signers sign as CreateSession needs: over SHA-256.
    if (hash !== 'sha256')
      throw new SidecarError('CONFIG_INVALID', `${opts.origin('digest')}: keys on a token or in a TPM sign with SHA256 here, got ${digest}`);
    kind = hardware.kind;
    signature = await hardware.sign(await readStdin(io));
  } else {
    const key = await loadPrivateKey(cfg, deps);
    const data = await readStdin(io);
    kind = describeKey(key).kind;
    signature = kind === 'ML-DSA' ? sign(null, data, key) : sign(hash, data, kind === 'EC' ? { key, dsaEncoding: 'der' } : key);
  }
  // Byte for byte what AWS's helper prints: json (its default) is the hex as a JSON string,
  // text the bare hex, bin the raw signature; no trailing newline in any of them.
  const hex = signature.toString('hex');
  await writeOut(io.stdout, format === 'bin' ? signature : format === 'json' ? JSON.stringify(hex) : hex);
  return 0;
}

const SUPPORTED: Record<string, string[]> = {
  RSA: ['SHA256withRSA', 'SHA384withRSA', 'SHA512withRSA'],
  EC: ['SHA256withECDSA', 'SHA384withECDSA', 'SHA512withECDSA'],
  'ML-DSA': ['ML-DSA'],
};

/**
 * The key type of a certificate. Node.js before 24.7 (OpenSSL 3.0) cannot load an ML-DSA
 * public key at all and throws a bare OpenSSL "decode error"; the algorithm is then read
 * from the certificate's SubjectPublicKeyInfo so the message can say what to do.
 */
async function keyKindOf(cert: X509Certificate, label: string): Promise<KeyKind> {
  let publicKey: KeyObject;
  try {
    publicKey = cert.publicKey;
  } catch (e) {
    let algorithm: string | undefined;
    try {
      // Loaded only on this path: credential-process and the common case never need it.
      // @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect
      // metadata polyfill installed before the library loads.
      await import('reflect-metadata');
      const x509 = await import('@peculiar/x509');
      algorithm = new x509.X509Certificate(cert.raw).publicKey.algorithm.name;
    } catch {
      algorithm = undefined;
    }
    if (algorithm !== undefined && /^ML-DSA-(44|65|87)$/.test(algorithm)) {
      throw new SidecarError(
        'KEY_UNSUPPORTED',
        `${label} holds an ${algorithm} certificate: ML-DSA keys need Node.js >= 24.7; this is ${process.version}: run the sidecar on Node.js 24.7 or newer`,
        { cause: e, details: { source: label, keyType: algorithm } },
      );
    }
    throw new SidecarError(
      'KEY_UNSUPPORTED',
      `the public key of the certificate in ${label} cannot be loaded by this Node.js ${process.version}: use an RSA or ECDSA certificate`,
      {
        cause: e,
        details: { source: label },
      },
    );
  }
  return describeKey(publicKey).kind;
}

export async function readCertificateData(opts: Options, io: CliIo): Promise<number> {
  const logger = loggerFrom(opts, io, { command: 'read-certificate-data' });
  const cfg = identityConfigFrom(opts, false, io);
  const cert = await loadCertificateOnly(cfg, { clock: io.clock, logger, env: io.env, stdin: io.stdin });
  const kind = await keyKindOf(cert.certificate, inputLabel(cfg.certificate));
  await writeOut(
    io.stdout,
    `${JSON.stringify({
      keyType: kind,
      certificateData: cert.certificate.raw.toString('base64'),
      serialNumber: cert.serialDecimal,
      supportedAlgorithms: SUPPORTED[kind],
    })}\n`,
  );
  return 0;
}
