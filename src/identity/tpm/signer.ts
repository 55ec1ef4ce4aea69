/**
 * TPM 2.0 keys through the tpm2 OpenSSL provider (Debian's tpm2-openssl): a TSS2 PEM private
 * key (`-----BEGIN TSS2 PRIVATE KEY-----`, the file tpm2-openssl and AWS's helper write) or
 * a persistent handle (`handle:0x81000001`). The file holds the key wrapped by the TPM's
 * storage key: only that TPM can load it, and signatures are made inside it.
 *
 * Why `openssl` with the provider rather than a TSS binding in this process: the provider
 * is the maintained, audited code that already parses TSS2 PEM, loads keys under the right
 * parent, runs the authorisation sessions and speaks every TCTI (device, resource manager,
 * swtpm, via TPM2OPENSSL_TCTI); a Node binding of the TSS would be a native addon of our own
 * to keep safe. The cost is one short process per signature (once per credential refresh).
 * The key password goes to it on a pipe (fd 3), never in argv or the environment.
 */
import { spawn } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SidecarError } from '../../core/errors.js';
import type { KeySigner } from '../../core/identity.js';
import { describeKey } from '../key-signer.js';
export { isTss2Pem, parseTpmHandle } from './key-ref.js';

const MAX_OUTPUT = 64 * 1024;
const TIMEOUT_MS = 30_000;

export interface TpmKeyRef {
  /** The TSS2 PEM file path, or `handle:0x...`. */
  readonly key: string;
  readonly label: string;
  /** The key's authorisation value; undefined for a key without one. */
  readonly password?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The openssl command (default `openssl` on PATH). */
  readonly openssl?: string;
}

function run(ref: TpmKeyRef, args: readonly string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(ref.env)) if (v !== undefined) env[k] = v;
    const withPass = ref.password !== undefined;
    const child = spawn(ref.openssl ?? 'openssl', [...args, ...(withPass ? ['-passin', 'fd:3'] : [])], {
      env,
      stdio: withPass ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      outLen += d.length;
      if (outLen <= MAX_OUTPUT) out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 8192) err += d.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new SidecarError(
          'TPM_UNAVAILABLE',
          e.code === 'ENOENT'
            ? `TPM keys need the openssl command with the tpm2 provider: apt-get install openssl tpm2-openssl`
            : `could not run openssl for ${ref.label}: ${e.message}`,
          { cause: e },
        ),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && outLen <= MAX_OUTPUT) resolve(Buffer.concat(out));
      else reject(tpmError(ref, err, code));
    });
    for (const s of [child.stdin, child.stdio[3]]) (s as NodeJS.WritableStream | null)?.on('error', () => undefined);
    if (withPass) (child.stdio[3] as NodeJS.WritableStream).end(`${ref.password}\n`);
    child.stdin.end(input);
  });
}

/** openssl's and the TSS's stderr, turned into one line that names the cause and the fix. */
export function tpmError(ref: Pick<TpmKeyRef, 'label' | 'password'>, stderr: string, code: number | null): SidecarError {
  if (/authorization HMAC check failed|TPM_RC_AUTH_FAIL|TPM_RC_BAD_AUTH|0x0000098e|bad decrypt/i.test(stderr)) {
    return new SidecarError(
      'TPM_AUTH_FAILED',
      ref.password === undefined
        ? `the TPM key ${ref.label} needs its password: pass --tpm-key-password (or ROLESANYWHERE_TPM_KEY_PASSWORD)`
        : `the TPM refused the password of key ${ref.label}: check --tpm-key-password (the TPM's lockout counter counts each wrong one)`,
    );
  }
  if (/lockout/i.test(stderr)) {
    return new SidecarError('TPM_AUTH_FAILED', `the TPM is in dictionary-attack lockout: wait for it, or clear it with tpm2_dictionarylockout -c`);
  }
  if (/tcti|Connection refused|No such file or directory.*tpm|Failed to initialize|esys.*init/i.test(stderr)) {
    return new SidecarError(
      'TPM_UNAVAILABLE',
      `the TPM could not be reached for ${ref.label}: check /dev/tpmrm0 (and that this user may open it, group tss) or TPM2OPENSSL_TCTI`,
      { details: { exit: code ?? -1 } },
    );
  }
  if (/unable to load|could not read|decoder|no suitable|Could not find|not found/i.test(stderr)) {
    return new SidecarError(
      'TPM_KEY_INVALID',
      `${ref.label} is not a key this TPM can load (wrapped by another TPM, a missing persistent handle, or a damaged TSS2 PEM): create the key on this host's TPM`,
      { details: { exit: code ?? -1 } },
    );
  }
  const first = stderr.split('\n').find((l) => l.trim() !== '') ?? `openssl exited with ${code ?? 'a signal'}`;
  return new SidecarError('TPM_UNAVAILABLE', `the TPM failed with ${ref.label}: ${first.trim().slice(0, 200)}`);
}

const PROVIDERS = ['-provider', 'tpm2', '-provider', 'default'];

/** The key's public half, exported by the TPM (the private part never leaves it). */
export async function tpmPublicKey(ref: TpmKeyRef): Promise<KeyObject> {
  const pem = await run(ref, ['pkey', ...PROVIDERS, '-in', ref.key, '-pubout'], Buffer.alloc(0));
  try {
    return createPublicKey(pem);
  } catch (e) {
    throw new SidecarError('TPM_KEY_INVALID', `the TPM returned no usable public key for ${ref.label}`, { cause: e });
  }
}

/** A signer whose every signature is made by the TPM (SHA-256; PKCS#1 v1.5 for RSA, DER for ECDSA). */
export async function createTpmSigner(ref: TpmKeyRef): Promise<{ signer: KeySigner; publicKey: KeyObject }> {
  const publicKey = await tpmPublicKey(ref);
  const d = describeKey(publicKey);
  const signer: KeySigner = {
    algorithm: d.algorithm,
    kind: d.kind,
    description: `${d.description} (TPM)`,
    sign: (data: Buffer) => run(ref, ['pkeyutl', ...PROVIDERS, '-sign', '-inkey', ref.key, '-rawin', '-digest', 'sha256'], data),
  };
  return { signer, publicKey };
}
