/**
 * Strict PEM (RFC 7468) decoding. Strict because a certificate half-written during rotation
 * or a variable pasted with a line missing must fail loudly here, naming the source, rather
 * than reach the service as a subtly different certificate.
 */
import { SidecarError } from '../core/errors.js';
import { isDerSequence } from './der.js';

export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`, `ENCRYPTED PRIVATE KEY`. */
  readonly type: string;
  readonly der: Buffer;
  /** RFC 1421 headers (`Proc-Type`, `DEK-Info`), present only in legacy encrypted keys. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface PemParseOptions {
  /**
   * Upper bound on blocks. A certificate's chain is a handful of certificates; a file with
   * hundreds of blocks is a CA bundle given by mistake (or hostile input), and each block
   * costs a certificate parse and chain checks later.
   */
  readonly maxBlocks: number;
  /** Where the text came from (`file /x.pem`, `env CERT`), for messages. */
  readonly label: string;
  /** Says why more than `maxBlocks` is wrong (default: a certificate file is not a CA bundle). */
  readonly tooManyBlocks?: string;
}

// Header lines are only ever Proc-Type and DEK-Info; a few more tolerates comments, and the
// cap keeps a block made of "headers" from being accepted as anything.
const MAX_HEADERS = 8;
const BEGIN_RE = /^-----BEGIN ([A-Z0-9][A-Z0-9 #._-]*)-----$/;
const END_RE = /^-----END ([A-Z0-9][A-Z0-9 #._-]*)-----$/;
const HEADER_RE = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/;
const BASE64_LINE_RE = /^[A-Za-z0-9+/=]+$/;

function invalid(label: string, what: string): SidecarError {
  return new SidecarError('PEM_INVALID', `${label}: ${what}; check that it is a complete, unmodified PEM file`);
}

/** True when the bytes are PEM text (not a DER structure that happens to contain the marker). */
export function isPem(data: Buffer): boolean {
  return !isDerSequence(data) && data.indexOf('-----BEGIN ') >= 0;
}

/** Decodes strict base64: standard alphabet, padding only at the end, canonical trailing bits. */
export function decodeStrictBase64(b64: string): Buffer | undefined {
  if (b64.length === 0 || b64.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  const buf = Buffer.from(b64, 'base64');
  // Buffer.from ignores non-zero padding bits; re-encoding catches them (RFC 4648 section 3.5).
  return buf.toString('base64') === b64 ? buf : undefined;
}

/**
 * Every PEM block in `text`, in order. Text outside blocks (OpenSSL's `Bag Attributes` and
 * `subject=` lines, comments) is ignored, as OpenSSL does. Throws PEM_INVALID for a block
 * without END, mismatched labels, bad base64 or too many blocks.
 */
export function parsePemBlocks(text: string | Buffer, opts: PemParseOptions): PemBlock[] {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  const lines = s.split(/\r\n|\n|\r/);
  const blocks: PemBlock[] = [];
  let current: { type: string; line: number; headers: Record<string, string>; body: string[]; headerPhase: boolean } | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const begin = BEGIN_RE.exec(line);
    if (begin !== null) {
      if (current !== undefined) {
        throw invalid(
          opts.label,
          `BEGIN ${begin[1]} at line ${i + 1} inside the ${current.type} block opened at line ${current.line} (its END line is missing)`,
        );
      }
      if (blocks.length >= opts.maxBlocks) {
        throw invalid(
          opts.label,
          `more than ${opts.maxBlocks} PEM blocks (${opts.tooManyBlocks ?? 'a certificate file holds one certificate and its chain, not a CA bundle'})`,
        );
      }
      current = { type: begin[1]!, line: i + 1, headers: {}, body: [], headerPhase: true };
      continue;
    }
    const end = END_RE.exec(line);
    if (end !== null) {
      if (current === undefined) {
        throw invalid(opts.label, `END ${end[1]} at line ${i + 1} without a BEGIN line (the start of the file is missing)`);
      }
      if (end[1] !== current.type) {
        throw invalid(opts.label, `BEGIN ${current.type} at line ${current.line} is closed by END ${end[1]}`);
      }
      const b64 = current.body.join('');
      const der = decodeStrictBase64(b64);
      if (der === undefined) {
        throw invalid(
          opts.label,
          b64.length === 0
            ? `the ${current.type} block at line ${current.line} is empty`
            : `the ${current.type} block at line ${current.line} is not valid base64 (wrong length or padding)`,
        );
      }
      blocks.push({ type: current.type, der, headers: Object.freeze(current.headers) });
      current = undefined;
      continue;
    }
    if (current === undefined) continue;
    if (line.length === 0) {
      // The blank line that ends RFC 1421 headers; blank lines elsewhere are tolerated.
      current.headerPhase = false;
      continue;
    }
    if (current.headerPhase && current.body.length === 0) {
      const h = HEADER_RE.exec(line);
      if (h !== null) {
        if (Object.keys(current.headers).length >= MAX_HEADERS) {
          throw invalid(opts.label, `the ${current.type} block at line ${current.line} has too many header lines`);
        }
        current.headers[h[1]!] = h[2]!;
        continue;
      }
    }
    current.headerPhase = false;
    if (!BASE64_LINE_RE.test(line)) {
      throw invalid(opts.label, `line ${i + 1} in the ${current.type} block is not base64`);
    }
    current.body.push(line);
  }
  if (current !== undefined) {
    throw invalid(opts.label, `BEGIN ${current.type} at line ${current.line} has no END line (the file is truncated)`);
  }
  return blocks;
}
