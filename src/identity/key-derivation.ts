/**
 * Key derivation off the event loop. Opening an encrypted PKCS#8 key runs PBKDF2 or scrypt
 * inside OpenSSL, and a PKCS#12 bundle runs node-forge's pure-JavaScript PKCS#12 KDF, MAC
 * and PBKDF2: both synchronous, for up to MAX_KEY_DERIVATION_COST rounds. On the main
 * thread that stalls every request of `serve` during a certificate rotation, while SDK
 * clients give up on IMDS within a second (Go's after 500 ms). So inputs that need a
 * derivation are decoded by `buildIdentity` in a worker thread of this process; the key
 * comes back as a KeyObject (which Node clones between threads without exporting it) and
 * the certificates as DER. Inputs without one are decoded in place: no thread to start.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, SidecarError, type ErrorCode } from '../core/errors.js';
import type { LogFields, Logger, LogLevel } from '../core/logger.js';
import { nullLogger } from '../core/logger.js';
import { isPem } from './pem.js';
import { keyDerivationWorkerScript } from './worker-script.js';
import { isEncryptedPkcs8Der } from './private-key.js';
import { hasPkcs12Extension, isPkcs12 } from './sniff.js';

/** True when decoding these bytes runs a password-based key derivation. */
export function needsKeyDerivation(data: Buffer, label: string): boolean {
  if (isPem(data)) return data.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
  return isPkcs12(data) || hasPkcs12Extension(label) || isEncryptedPkcs8Der(data);
}

/** What the worker sends back: plain data only (a KeyObject is cloned, never exported). */
export type WorkerReply =
  | { readonly ok: true; readonly leaf: Buffer; readonly chain: Buffer[]; readonly key: KeyObject; readonly logs: LogRecord[] }
  | {
      readonly ok: false;
      readonly code?: string;
      readonly message: string;
      readonly details?: Record<string, string | number | boolean | undefined>;
      readonly logs: LogRecord[];
    };

export interface LogRecord {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields?: LogFields;
}

/** Collects log lines in the worker, to be written by the parent's logger. */
export function recordingLogger(into: LogRecord[], base: LogFields = {}): Logger {
  const at = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    into.push({ level, msg, fields: { ...base, ...(fields ?? {}) } });
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (f) => recordingLogger(into, { ...base, ...f }) };
}

export interface DecodedParts {
  readonly leaf: X509Certificate;
  readonly chain: X509Certificate[];
  readonly key: KeyObject;
}

/**
 * Runs `buildIdentity` on `input` in a worker thread and returns the decoded leaf, chain
 * and key; a SidecarError thrown there is thrown here with the same code and message.
 */
export function decodeInWorker(input: unknown, logger: Logger = nullLogger): Promise<DecodedParts> {
  return new Promise<DecodedParts>((resolve, reject) => {
    const { script, eval: isCode } = keyDerivationWorkerScript();
    const worker = new Worker(script, { workerData: input, eval: isCode });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (reply: WorkerReply) => {
      for (const l of reply.logs) logger[l.level](l.msg, l.fields);
      settle(() => {
        if (reply.ok) {
          resolve({ leaf: new X509Certificate(reply.leaf), chain: reply.chain.map((d) => new X509Certificate(d)), key: reply.key });
        } else if (reply.code !== undefined && Object.hasOwn(ErrorCodes, reply.code)) {
          reject(new SidecarError(reply.code as ErrorCode, reply.message, { details: reply.details ?? {} }));
        } else {
          reject(new SidecarError('INTERNAL', `decoding the identity failed: ${reply.message}`));
        }
      });
    });
    worker.once('error', (e) => settle(() => reject(new SidecarError('INTERNAL', `the key-derivation worker failed: ${e.message}`, { cause: e }))));
    worker.once('exit', (code) => settle(() => reject(new SidecarError('INTERNAL', `the key-derivation worker exited (${code}) without an answer`))));
  });
}
