import { spawn } from 'node:child_process';
import { SidecarError } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import type { CliIo, Signal } from './io.js';
import { startSidecar } from './runtime.js';

/** Variables that would make an SDK pick other credentials before ours, or disable IMDS. */
const CONFLICTING = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE',
];

/**
 * `exec -- cmd args...`: serves credentials on ephemeral loopback ports for the lifetime of
 * one child process (a CI job step), keeps them fresh, forwards signals and exits with the
 * child's status. The token travels only in the child's environment: nothing secret is put
 * on a command line or left in a file.
 */
export async function exec(opts: Options, io: CliIo): Promise<number> {
  const argv = opts.parsed.rest;
  if (argv.length === 0) {
    throw new SidecarError('CONFIG_INVALID', 'exec needs a command: rolesanywhere-sidecar exec [flags] -- <command> [args...]');
  }
  const sidecar = await startSidecar(opts, io, { ephemeralPorts: true, tokenInEnvOnly: true, component: 'exec' });
  try {
    // Start the child with credentials already in hand, so its first SDK call succeeds.
    await sidecar.refresher.waitForFirst(undefined, 60_000);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(io.env)) {
      if (v !== undefined && !CONFLICTING.includes(k) && !k.startsWith('ROLESANYWHERE_')) env[k] = v;
    }
    for (const [k, v] of sidecar.clientEnv) env[k] = v;
    if (sidecar.containerToken !== undefined) env.AWS_CONTAINER_AUTHORIZATION_TOKEN = sidecar.containerToken;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    const forwarded: Signal[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    const offs = forwarded.map((sig) => io.onSignal(sig, () => child.kill(sig)));
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(new SidecarError('CONFIG_INVALID', `cannot run "${argv[0]}" (${e.code ?? e.message}): check the command name and PATH`, { cause: e })),
      );
      child.once('exit', (status, signal) => {
        // A child killed by a signal exits like a shell reports it: 128 + signal number.
        const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
        resolve(status ?? 128 + (signal !== null ? (signals[signal] ?? 1) : 1));
      });
    });
    for (const off of offs) off();
    return code;
  } finally {
    await sidecar.stop(1_000);
  }
}
