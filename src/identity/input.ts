/**
 * Where certificate and key bytes come from: a file, an environment variable (CI systems
 * such as GitLab hold secrets in variables; issue #187 upstream), or stdin. The only module
 * in identity/ that does I/O on inputs. The environment is passed in: config/ owns
 * process.env.
 */
import { SidecarError } from '../core/errors.js';
import { errnoMeaning, readFileBounded, readStreamBounded } from '../io/files.js';
import { decodeStrictBase64 } from './pem.js';

export type InputSource = { kind: 'file'; path: string } | { kind: 'env'; name: string } | { kind: 'stdin' };

export interface ReadInputOptions {
  /** Reads stop and fail past this many bytes: inputs are certificates and keys, never big. */
  readonly maxBytes: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin?: NodeJS.ReadableStream;
  /** The flag that named this input (e.g. `--certificate`), so messages say what to fix. */
  readonly flag?: string;
}

export interface InputData {
  /** `file /x/y.pem`, `env CERT_PEM` or `stdin`: never the content. */
  readonly label: string;
  readonly data: Buffer;
}

/** True for inputs read as bytes (file, env, stdin); false for PKCS#11 and TPM references. */
export function isByteInput<T extends { readonly kind: string }>(s: InputSource | T | undefined): s is InputSource {
  return s !== undefined && (s.kind === 'file' || s.kind === 'env' || s.kind === 'stdin');
}

/** `-` as a path means stdin, as with most Unix tools. */
export function normalizeSource(src: InputSource): InputSource {
  return src.kind === 'file' && src.path === '-' ? { kind: 'stdin' } : src;
}

export function sourceLabel(src: InputSource): string {
  const s = normalizeSource(src);
  switch (s.kind) {
    case 'file':
      return `file ${s.path}`;
    case 'env':
      return `env ${s.name}`;
    case 'stdin':
      return 'stdin';
  }
}

export function isStdin(src: InputSource | undefined): boolean {
  return src !== undefined && normalizeSource(src).kind === 'stdin';
}

function fixFor(flag: string | undefined, what: string): string {
  return flag === undefined ? what : `${what} (${flag})`;
}

function tooLarge(label: string, maxBytes: number, flag: string | undefined): SidecarError {
  return new SidecarError(
    'INPUT_TOO_LARGE',
    `${label} is larger than ${maxBytes} bytes, far more than a certificate, chain or key: ${fixFor(flag, 'check that the right input is given')}`,
    { details: { source: label, maxBytes } },
  );
}

function readIdentityFile(path: string, maxBytes: number, flag: string | undefined): Promise<Buffer> {
  const label = `file ${path}`;
  return readFileBounded(path, {
    maxBytes,
    tooLarge: () => tooLarge(label, maxBytes, flag),
    unreadable: (code, cause) =>
      new SidecarError('FILE_UNREADABLE', `cannot read ${label}: ${errnoMeaning(code)}; ${fixFor(flag, 'give the path of a readable file')}`, {
        cause,
        details: { source: label, errno: code },
      }),
  });
}

/**
 * Decodes an environment variable's content: PEM text as is (also with literal `\n`
 * sequences, as single-line CI variable fields store it), otherwise standard base64 of PEM,
 * DER or PKCS#12 (whitespace and line breaks allowed).
 */
export function decodeEnvValue(name: string, value: string, maxBytes: number, flag?: string): Buffer {
  const label = `env ${name}`;
  // Base64 grows 4/3; the margin covers line breaks in wrapped base64.
  if (value.length > Math.ceil((maxBytes * 4) / 3) + 4096) throw tooLarge(label, maxBytes, flag);
  let data: Buffer;
  if (value.includes('-----BEGIN ')) {
    const text = !value.includes('\n') && value.includes('\\n') ? value.replace(/\\r\\n|\\n/g, '\n') : value;
    data = Buffer.from(text, 'utf8');
  } else {
    const decoded = decodeStrictBase64(value.replace(/\s+/g, ''));
    if (decoded === undefined) {
      throw new SidecarError(
        'PEM_INVALID',
        `${label} holds neither PEM text nor base64: ${fixFor(flag, 'put the PEM text, or base64 of the PEM, DER or PKCS#12 file, in the variable')}`,
        { details: { source: label } },
      );
    }
    data = decoded;
  }
  if (data.length > maxBytes) throw tooLarge(label, maxBytes, flag);
  return data;
}

/** Reads one input, bounded. Errors name the source and the flag to fix, never the content. */
export async function readInput(src: InputSource, opts: ReadInputOptions): Promise<InputData> {
  const s = normalizeSource(src);
  const label = sourceLabel(s);
  switch (s.kind) {
    case 'file': {
      const data = await readIdentityFile(s.path, opts.maxBytes, opts.flag);
      if (data.length === 0) {
        // Most often a certificate caught mid-rotation, written by truncate-then-write.
        throw new SidecarError('FILE_UNREADABLE', `${label} is empty: ${fixFor(opts.flag, 'check the path, and that whatever writes the file has finished')}`, {
          details: { source: label },
        });
      }
      return { label, data };
    }
    case 'env': {
      const value = opts.env[s.name];
      if (value === undefined || value.trim() === '') {
        throw new SidecarError(
          'CONFIG_INVALID',
          `environment variable ${s.name} is ${value === undefined ? 'not set' : 'empty'}: ${fixFor(opts.flag, 'set it to the PEM or base64 content, or name another variable')}`,
          { details: { source: label } },
        );
      }
      return { label, data: decodeEnvValue(s.name, value, opts.maxBytes, opts.flag) };
    }
    case 'stdin': {
      if (opts.stdin === undefined) {
        throw new SidecarError('CONFIG_INVALID', `stdin is not available to read from: ${fixFor(opts.flag, 'give a file path instead of -')}`);
      }
      const data = await readStreamBounded(opts.stdin, opts.maxBytes, () => tooLarge('stdin', opts.maxBytes, opts.flag));
      if (data.length === 0) {
        throw new SidecarError(
          'FILE_UNREADABLE',
          `stdin was empty: pipe the certificate or key into the command, or ${fixFor(opts.flag, 'give a file path instead of -')}`,
        );
      }
      return { label, data };
    }
  }
}
