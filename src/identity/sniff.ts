/** Format detection by content, for inputs whose flag allows several formats. */

/**
 * PKCS#12 PFX: `SEQUENCE { INTEGER 3, ContentInfo SEQUENCE ... }`. Checked on the first
 * bytes only, allowing BER indefinite length at the top (some older exporters write BER).
 */
export function isPkcs12(data: Buffer): boolean {
  if (data.length < 8 || data[0] !== 0x30) return false;
  const l = data[1]!;
  const pos = l < 0x80 || l === 0x80 ? 2 : 2 + (l & 0x7f);
  return data[pos] === 0x02 && data[pos + 1] === 0x01 && data[pos + 2] === 0x03 && data[pos + 3] === 0x30;
}

/** `.p12`/`.pfx` in a source label: a hint that the user meant a PKCS#12 bundle. */
export function hasPkcs12Extension(label: string): boolean {
  return /\.(p12|pfx)$/i.test(label);
}
