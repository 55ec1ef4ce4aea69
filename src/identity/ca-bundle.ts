/**
 * CA bundles: the extra TLS roots of the CreateSession client (`--ca-bundle`,
 * `AWS_CA_BUNDLE`) and the emulator's trust anchors. One reader for both, on the strict PEM
 * parser, so a damaged block fails at start-up instead of being skipped (and later surfacing
 * as a TLS or chain error on every refresh).
 */
import { X509Certificate } from 'node:crypto';
import { SidecarError, oneLine } from '../core/errors.js';
import { parsePemBlocks } from './pem.js';

/**
 * System bundles are about 200 KiB (Debian's ca-certificates.crt, Mozilla's list via
 * certifi); 8 MiB leaves room for large corporate bundles while staying bounded.
 */
export const MAX_CA_BUNDLE_BYTES = 8 * 1024 * 1024;

/** Mozilla's list has about 150 roots; ten thousand blocks is no bundle anyone maintains. */
export const MAX_CA_BUNDLE_BLOCKS = 10_000;

/**
 * Every CERTIFICATE block of a PEM bundle, each parsed. Text outside blocks (comments,
 * `# Issuer:` lines) and blocks of other types are ignored, as OpenSSL does; a block that
 * is not well-formed PEM or a certificate that does not parse is an error, and so is a
 * bundle with no certificate. `source` names the bundle and what sets it, for messages.
 */
export function parseCaBundle(pem: string | Buffer, source = 'the CA bundle'): X509Certificate[] {
  const size = typeof pem === 'string' ? Buffer.byteLength(pem, 'utf8') : pem.length;
  if (size > MAX_CA_BUNDLE_BYTES) {
    throw new SidecarError(
      'INPUT_TOO_LARGE',
      `${source} is larger than ${MAX_CA_BUNDLE_BYTES} bytes: give a PEM file holding only the CA certificates you need`,
      {
        details: { maxBytes: MAX_CA_BUNDLE_BYTES },
      },
    );
  }
  const blocks = parsePemBlocks(pem, { maxBlocks: MAX_CA_BUNDLE_BLOCKS, label: source, tooManyBlocks: 'more than any CA bundle holds' });
  const out: X509Certificate[] = [];
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE') continue;
    try {
      out.push(new X509Certificate(b.der));
    } catch (e) {
      throw new SidecarError(
        'PEM_INVALID',
        `certificate #${out.length + 1} in ${source} does not parse (${oneLine((e as Error).message, 100)}): fix or remove it`,
        { cause: e },
      );
    }
  }
  if (out.length === 0) throw new SidecarError('PEM_INVALID', `${source} holds no "BEGIN CERTIFICATE" block: give a PEM file of CA certificates`);
  return out;
}
