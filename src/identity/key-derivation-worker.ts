/**
 * The worker side of key-derivation.ts: runs buildIdentity on the inputs it is given and
 * posts back the leaf and chain as DER and the key as a KeyObject (cloned by Node, never
 * exported), or the SidecarError's code, message and details. Its log lines go back too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SidecarError } from '../core/errors.js';
import { recordingLogger, type LogRecord, type WorkerReply } from './key-derivation.js';
import { buildIdentityWithKey, type BuildIdentityInput } from './load.js';

// Buffers arrive as plain Uint8Arrays (the structured clone drops the Buffer prototype).
const asBuffer = (v: unknown): Buffer | undefined => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : undefined);

const logs: LogRecord[] = [];
let reply: WorkerReply;
try {
  const data = workerData as BuildIdentityInput;
  const keyData = asBuffer(data.keyData);
  const intermediatesData = asBuffer(data.intermediatesData);
  const input: BuildIdentityInput = {
    ...data,
    certData: asBuffer(data.certData) ?? Buffer.alloc(0),
    ...(keyData === undefined ? {} : { keyData }),
    ...(intermediatesData === undefined ? {} : { intermediatesData }),
    logger: recordingLogger(logs),
  };
  const { identity, key } = buildIdentityWithKey(input);
  reply = { ok: true, leaf: identity.certificate.raw, chain: identity.chain.map((c) => c.raw), key, logs };
} catch (e) {
  reply =
    e instanceof SidecarError
      ? { ok: false, code: e.code, message: e.message, details: { ...e.details }, logs }
      : { ok: false, message: e instanceof Error ? e.message : String(e), logs };
}
parentPort?.postMessage(reply);
