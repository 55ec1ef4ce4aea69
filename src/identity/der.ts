/**
 * Just enough DER reading to tell formats apart (certificate, PKCS#8, PKCS#12) and to
 * name the algorithm of a key Node cannot load. Never used to interpret a structure the
 * crypto libraries then trust: they re-parse everything themselves.
 */

export interface Tlv {
  readonly tag: number;
  /** Offset of the content (after tag and length). */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** Reads one TLV at `offset`; undefined when the bytes there are not a well-formed DER header. */
export function readTlv(buf: Buffer, offset: number, limit = buf.length): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = buf[offset]!;
  // High-tag-number form never appears in the structures we sniff.
  if ((tag & 0x1f) === 0x1f) return undefined;
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    // 0x80 is BER indefinite length (not DER); more than 4 length bytes is beyond any input we accept.
    if (n === 0 || n > 4 || pos + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  if (pos + len > limit) return undefined;
  return { tag, start: pos, end: pos + len };
}

/** The TLVs directly inside a constructed value. */
export function children(buf: Buffer, parent: Tlv, max = 16): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end && out.length < max) {
    const t = readTlv(buf, pos, parent.end);
    if (t === undefined) break;
    out.push(t);
    pos = t.end;
  }
  return out;
}

export const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;

/** True when the whole buffer is exactly one DER SEQUENCE (how every DER certificate, key and PKCS#12 starts). */
export function isDerSequence(buf: Buffer): boolean {
  const t = readTlv(buf, 0);
  return t !== undefined && t.tag === TAG_SEQUENCE && t.end === buf.length;
}

/** Small non-negative INTEGER value (versions, iteration counts); undefined when absent or too big. */
export function smallInteger(buf: Buffer, t: Tlv | undefined): number | undefined {
  if (t === undefined || t.tag !== TAG_INTEGER || t.end - t.start > 6 || t.end === t.start) return undefined;
  if (buf[t.start]! & 0x80) return undefined;
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}

/**
 * The largest key-derivation iteration count in a PKCS#12 bundle or an encrypted PKCS#8 key, read without decrypting anything: PBKDF2
 * parameters, PKCS#12 PBE parameters and MacData all hold `salt OCTET STRING` followed by
 * `iterations INTEGER` in the same SEQUENCE, and all sit outside the encrypted parts.
 */
export function maxIterationCount(der: Buffer): number {
  let max = 0;
  let budget = 10_000; // TLVs visited: bounds the walk on hostile input
  const walk = (t: Tlv, depth: number): void => {
    if (depth > 16 || budget-- <= 0) return;
    if (t.tag === TAG_OCTET_STRING) {
      // authSafe and SafeContents are DER wrapped in OCTET STRINGs; most OCTET STRINGs are not.
      const inner = readTlv(der, t.start, t.end);
      if (inner !== undefined && inner.end === t.end && (inner.tag & 0x20) !== 0) walk(inner, depth + 1);
      return;
    }
    if ((t.tag & 0x20) === 0) return; // primitive
    const kids = children(der, t, 256);
    for (let i = 0; i + 1 < kids.length; i++) {
      if (kids[i]!.tag === TAG_OCTET_STRING && kids[i + 1]!.tag === TAG_INTEGER) {
        // An INTEGER too long for smallInteger is a count far past any cap.
        max = Math.max(max, smallInteger(der, kids[i + 1]) ?? Number.MAX_SAFE_INTEGER);
      }
    }
    for (const k of kids) walk(k, depth + 1);
  };
  const top = readTlv(der, 0);
  if (top !== undefined) walk(top, 0);
  return max;
}
