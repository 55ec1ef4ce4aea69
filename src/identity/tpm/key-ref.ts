/** How a TPM key is named: a TSS2 PEM file, or a persistent handle. Pure. */
import { SidecarError } from '../../core/errors.js';
import { children, readTlv, TAG_OID, TAG_SEQUENCE } from '../der.js';
import { parsePemBlocks } from '../pem.js';

export const TSS2_PEM_HEADER = '-----BEGIN TSS2 PRIVATE KEY-----';

export function isTss2Pem(data: Buffer): boolean {
  return data.subarray(0, 200).toString('latin1').trimStart().startsWith(TSS2_PEM_HEADER);
}

/** `handle:0x81000001` -> the handle, or undefined when the value is not a handle. */
export function parseTpmHandle(value: string): number | undefined {
  const m = /^handle:(0x[0-9a-fA-F]{1,8})$/.exec(value);
  if (m === null) return undefined;
  const h = Number(m[1]);
  if (h < 0x81000000 || h > 0x81ffffff) {
    throw new SidecarError(
      'CONFIG_INVALID',
      `${value} is not a persistent TPM handle: use one in 0x81000000..0x81FFFFFF (tpm2_getcap handles-persistent lists them)`,
    );
  }
  return h;
}

/**
 * Whether a TSS2 PEM key says it has no password (its emptyAuth field, RFC draft
 * "ASN.1 Specification for TPM 2.0 Key Files"): true, false, or undefined when the file
 * does not say or cannot be read (openssl then decides).
 */
export function tss2EmptyAuth(data: Buffer): boolean | undefined {
  let der: Buffer | undefined;
  try {
    der = parsePemBlocks(data, { maxBlocks: 4, label: 'the TPM key' }).find((b) => b.type === 'TSS2 PRIVATE KEY')?.der;
  } catch {
    return undefined;
  }
  if (der === undefined) return undefined;
  const top = readTlv(der, 0);
  if (top === undefined || top.tag !== TAG_SEQUENCE) return undefined;
  const [type, second] = children(der, top, 3);
  if (type?.tag !== TAG_OID || second === undefined) return undefined;
  // [0] EXPLICIT BOOLEAN emptyAuth, absent meaning FALSE.
  if (second.tag !== 0xa0) return false;
  const b = readTlv(der, second.start, second.end);
  if (b === undefined || b.tag !== 0x01 || b.end - b.start !== 1) return undefined;
  return der[b.start] !== 0;
}
