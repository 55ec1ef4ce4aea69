import type { Options } from '../config/parse.js';
import { writeOut, type CliIo } from './io.js';
import { startSidecar } from './runtime.js';

/** Bound on graceful shutdown: in-flight requests are tiny, so this is generous. */
const SHUTDOWN_GRACE_MS = 5_000;

/** `serve`: endpoints until SIGTERM/SIGINT; SIGHUP re-reads the certificate and key. */
export async function serve(opts: Options, io: CliIo): Promise<number> {
  const sidecar = await startSidecar(opts, io, { component: 'serve' });
  // stdout carries only the lines a client needs, so `eval "$(... serve | head -n N)"` works.
  // With --config, each role's endpoints follow as comments (eval ignores them).
  const roleLines = sidecar.roleEndpoints.map((e) => `# role ${e.role}: ${e.variable}=${e.value}\n`).join('');
  await writeOut(io.stdout, sidecar.clientEnv.map(([k, v]) => `export ${k}=${v}\n`).join('') + roleLines);
  const offs: Array<() => void> = [];
  await new Promise<void>((resolve) => {
    offs.push(
      io.onSignal('SIGTERM', () => resolve()),
      io.onSignal('SIGINT', () => resolve()),
      io.onSignal('SIGHUP', () => {
        sidecar.logger.info('SIGHUP: checking the certificate and key files');
        sidecar.reloadIdentity().catch(() => undefined);
      }),
    );
  });
  for (const off of offs) off();
  sidecar.logger.info('shutting down');
  await sidecar.stop(SHUTDOWN_GRACE_MS);
  sidecar.logger.info('stopped');
  return 0;
}
