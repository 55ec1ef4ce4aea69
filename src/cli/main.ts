/**
 * The command table and the one place errors become exit statuses and one-line messages.
 */
import { isSidecarError, oneLine, toSidecarError } from '../core/errors.js';
import { COMMANDS, type CommandName } from '../config/flags.js';
import { Options, parseArgs } from '../config/parse.js';
import { commandHelp, usage } from './help.js';
import { writeOut, type CliIo } from './io.js';
import { VERSION } from './version.js';

type Command = (opts: Options, io: CliIo) => Promise<number>;

async function loadCommand(name: CommandName): Promise<Command> {
  // Each command is imported on demand, so `credential-process` (run on every SDK refresh)
  // loads neither the servers, the emulator nor prom-client, and `version` loads nothing.
  switch (name) {
    case 'credential-process':
      return (await import('./credential-process.js')).credentialProcess;
    case 'sign-string':
      return (await import('./diagnostics.js')).signString;
    case 'read-certificate-data':
      return (await import('./diagnostics.js')).readCertificateData;
    case 'serve':
      return (await import('./serve.js')).serve;
    case 'update':
      return (await import('./update.js')).update;
    case 'exec':
      return (await import('./exec.js')).exec;
    case 'emulator':
      return (await import('./emulator.js')).emulator;
    case 'demo':
      return (await import('./demo.js')).demo;
    case 'setup':
      return (await import('./setup.js')).setup;
    case 'doctor':
      return (await import('./doctor.js')).doctor;
    case 'version':
      return async (_o, io) => {
        await writeOut(io.stdout, `${VERSION}\n`);
        return 0;
      };
  }
}

export async function run(io: CliIo): Promise<number> {
  const [first, ...rest] = io.argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    await writeOut(first === undefined ? io.stderr : io.stdout, usage(VERSION));
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') return run({ ...io, argv: ['version'] });
  if (!(COMMANDS as readonly string[]).includes(first)) {
    await writeOut(
      io.stderr,
      `rolesanywhere-sidecar: unknown command "${oneLine(first, 64)}": run "rolesanywhere-sidecar --help" for the list [CONFIG_INVALID]\n`,
    );
    return 2;
  }
  const name = first as CommandName;
  let debug = false;
  try {
    const parsed = parseArgs(name, rest, io.env);
    debug = parsed.values.get('debug') === true;
    if (parsed.help) {
      await writeOut(io.stdout, commandHelp(name));
      return 0;
    }
    const command = await loadCommand(name);
    return await command(new Options(parsed), io);
  } catch (e) {
    const err = toSidecarError(e);
    const hint = !isSidecarError(e) && !debug ? ' (run with --debug for details)' : '';
    await writeOut(io.stderr, `rolesanywhere-sidecar: ${err.message}${hint} [${err.code}]\n`);
    if (debug && e instanceof Error && e.stack !== undefined && !isSidecarError(e)) await writeOut(io.stderr, `${e.stack}\n`);
    return err.exitCode;
  }
}
