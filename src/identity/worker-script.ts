/**
 * Where the key-derivation worker's code is (key-derivation.ts starts it). From the
 * compiled package it is the module beside this one; the single-file bundle (packaging/)
 * replaces this module with one that carries the worker's own bundled code, run with
 * `eval`, since a bundle or a single executable has no file beside it to load.
 */
export interface WorkerScript {
  readonly script: URL | string;
  readonly eval: boolean;
}

export function keyDerivationWorkerScript(): WorkerScript {
  return { script: new URL('./key-derivation-worker.js', import.meta.url), eval: false };
}
