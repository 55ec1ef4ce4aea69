import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/logger.js';
import { SidecarError } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import type { CliIo, Signal } from './io.js';
import { readFileBounded } from '../io/files.js';
import { MAX_CREDENTIALS_FILE_BYTES } from '../sinks/credentials-file.js';
import { selectRole } from './roles.js';
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

const FORWARDED: Signal[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

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
  // Signal handlers go in before anything starts: subscribing after the spawn left a window
  // in which a SIGTERM killed exec with the default action and orphaned the child (the
  // integration test hit it in about 1 of 4 runs). Before the child exists, a signal
  // cancels start-up and the command is never run.
  let child: ChildProcess | undefined;
  let early: Signal | undefined;
  const startup = new AbortController();
  const offs = FORWARDED.map((sig) =>
    io.onSignal(sig, () => {
      if (child !== undefined) child.kill(sig);
      else if (early === undefined) {
        early = sig;
        startup.abort(new SidecarError('NO_CREDENTIALS', `${sig} received during start-up; the command was not run`));
      }
    }),
  );
  try {
    // One role per child: --role-name picks it from --config (default: its defaultRole).
    const role = await selectRole(opts);
    const sidecar = await startSidecar(role.opts, io, { ephemeralPorts: true, tokenInEnvOnly: true, component: 'exec', singleRole: true });
    try {
      // Start the child with credentials already in hand, so its first SDK call succeeds.
      if (early === undefined) {
        await sidecar.refresher.waitForFirst(startup.signal, 60_000).catch((e: unknown) => {
          if (early === undefined) throw e;
        });
      }
      if (early !== undefined) return signalStatus(early);
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(io.env)) {
        if (v !== undefined && !CONFLICTING.includes(k) && !k.startsWith('ROLESANYWHERE_')) env[k] = v;
      }
      for (const [k, v] of sidecar.clientEnv) env[k] = v;
      if (sidecar.containerToken !== undefined) env.AWS_CONTAINER_AUTHORIZATION_TOKEN = sidecar.containerToken;
      await warnIfShadowed(env, io, sidecar.logger);
      const running = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
      child = running;
      return await new Promise<number>((resolve, reject) => {
        running.once('error', (e: NodeJS.ErrnoException) =>
          reject(
            new SidecarError(
              e.code === 'ENOENT' ? 'COMMAND_NOT_FOUND' : e.code === 'EACCES' ? 'COMMAND_NOT_EXECUTABLE' : 'CONFIG_INVALID',
              `cannot run "${argv[0]}" (${e.code ?? e.message}): check the command name, its permissions and PATH`,
              { cause: e },
            ),
          ),
        );
        running.once('exit', (status, signal) => resolve(status ?? signalStatus(signal ?? undefined)));
      });
    } finally {
      await sidecar.stop(1_000);
    }
  } finally {
    for (const off of offs) off();
  }
}

/**
 * SDKs look at the shared credentials file before the container and IMDS endpoints, so a
 * profile with static keys there silently wins over the credentials exec serves.
 */
async function warnIfShadowed(env: Record<string, string>, io: CliIo, logger: Logger): Promise<void> {
  const file = env.AWS_SHARED_CREDENTIALS_FILE ?? join(io.homedir, '.aws', 'credentials');
  // Only a hint: a missing, unreadable or oversized file is not worth a word.
  const text = await readFileBounded(file, { maxBytes: MAX_CREDENTIALS_FILE_BYTES }).then(
    (b) => b.toString('utf8'),
    () => '',
  );
  if (text.length === 0) return;
  const section = new RegExp(String.raw`^\s*\[\s*default\s*\][^\[]*^\s*aws_access_key_id\s*=`, 'm');
  if (section.test(text)) {
    logger.warn(
      'the [default] profile of the shared credentials file has access keys, which SDKs use before the credentials exec serves; remove them or point AWS_SHARED_CREDENTIALS_FILE elsewhere for this job',
      { path: file },
    );
  }
}

/** A process ended by a signal, reported the way a shell does: 128 + the signal's number. */
function signalStatus(signal: NodeJS.Signals | undefined): number {
  return 128 + (signal !== undefined ? (osConstants.signals[signal] ?? 1) : 1);
}
