/**
 * Updates one profile of an AWS shared credentials file (INI) and leaves everything else as
 * it was: other profiles, comments, blank lines, unknown keys and their order. Pure: text in,
 * text out; the caller writes it with writeFileAtomic.
 */
import { isoSeconds } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';

/** The keys `update` owns in its profile. */
/** The shared credentials file is small; a huge one is not a credentials file. */
export const MAX_CREDENTIALS_FILE_BYTES = 1024 * 1024;

export function profileValues(c: Credentials): Array<[string, string]> {
  return [
    ['aws_access_key_id', c.accessKeyId],
    ['aws_secret_access_key', c.secretAccessKey],
    ['aws_session_token', c.sessionToken],
    // Not read by the SDKs for shared credentials, but by tools that show or check expiry
    // (aws-vault and saml2aws write the same key).
    ['x_security_token_expires', isoSeconds(c.expiration)],
  ];
}

const SECTION = /^\s*\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$/;
const KEY = /^\s*([A-Za-z0-9_.-]+)\s*=/;

export function updateProfile(text: string, profile: string, values: ReadonlyArray<readonly [string, string]>): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.length === 0 ? [] : text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const pending = new Map(values.map(([k, v]) => [k, v]));
  const out: string[] = [];
  let inTarget = false;
  let found = false;
  let insertAt = -1;

  const flush = () => {
    if (!inTarget) return;
    const extra = [...pending].map(([k, v]) => `${k} = ${v}`);
    out.splice(insertAt, 0, ...extra);
    pending.clear();
  };

  for (const line of lines) {
    const sec = SECTION.exec(line);
    if (sec) {
      flush();
      inTarget = sec[1] === profile;
      if (inTarget) found = true;
      out.push(line);
      insertAt = out.length;
      continue;
    }
    if (inTarget) {
      const key = KEY.exec(line);
      if (key && pending.has(key[1]!)) {
        out.push(`${key[1]} = ${pending.get(key[1]!)}`);
        pending.delete(key[1]!);
        insertAt = out.length;
        continue;
      }
      if (line.trim() !== '') insertAt = out.length + 1;
    }
    out.push(line);
  }
  flush();
  if (!found) {
    if (out.length > 0 && out[out.length - 1]!.trim() !== '') out.push('');
    out.push(`[${profile}]`, ...values.map(([k, v]) => `${k} = ${v}`));
  }
  return out.join(eol) + eol;
}
