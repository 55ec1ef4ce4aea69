/**
 * ECDSA signature forms. Tokens (CKM_ECDSA) return r||s, each the curve's size (IEEE P1363);
 * Roles Anywhere takes the DER SEQUENCE { INTEGER r, INTEGER s }. Pure.
 */
import { SidecarError } from '../core/errors.js';

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

/** A non-negative big-endian integer as a minimal DER INTEGER. */
function derUnsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = bytes.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v]);
}

/** r||s (equal halves, 32..66 bytes each) -> DER SEQUENCE{r,s}. */
export function p1363ToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 2 * 66) {
    throw new SidecarError('SIGNING_FAILED', `the token returned an ECDSA signature of ${raw.length} bytes, which is not r||s for P-256, P-384 or P-521`);
  }
  const half = raw.length / 2;
  const body = Buffer.concat([derUnsignedInteger(raw.subarray(0, half)), derUnsignedInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}
