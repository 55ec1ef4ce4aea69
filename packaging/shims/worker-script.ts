/**
 * Replaces src/identity/worker-script.ts in the bundle: the key-derivation worker bundled on
 * its own into one CommonJS script (bundle.ts, a virtual module), started with `eval`, so
 * the single executable and the image decode costly keys off the event loop too.
 */
import type { WorkerScript } from '../../src/identity/worker-script.js';
// @ts-expect-error: a virtual module the bundler provides (bundle.ts, workerSourcePlugin).
import WORKER_SOURCE from 'virtual:key-derivation-worker';

export function keyDerivationWorkerScript(): WorkerScript {
  return { script: WORKER_SOURCE as string, eval: true };
}
