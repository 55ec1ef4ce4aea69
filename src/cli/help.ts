import { envName, flagsFor, type CommandName } from '../config/flags.js';

const SUMMARY: Record<CommandName, string> = {
  'credential-process': 'Print credentials in the credential_process format (one CreateSession, cached between invocations)',
  serve: 'Serve credentials continuously on IMDS-compatible and container-credentials endpoints',
  update: 'Keep a profile in the shared credentials file up to date',
  exec: 'Run a command with credentials served to it (for CI jobs and scripts)',
  'sign-string': 'Sign data from standard input with the private key (checks that a key works)',
  'read-certificate-data': "Print the certificate's key type, serial number and base64 DER",
  emulator: 'Run a local IAM Roles Anywhere emulator (and STS GetCallerIdentity) for offline testing',
  demo: 'Run the emulator with certs-example/ and serve credentials from it (the quick start)',
  doctor:
    'Check an identity and its Roles Anywhere setup step by step (certificate, chain, anchor, profile, role, region, duration, CRLs, clock, CreateSession), naming each problem and its fix',
  setup: 'Create (or find) the trust anchor and profile for a CA bundle and roles, and print the settings the sidecar needs',
  version: 'Print the version',
};

export function usage(version: string): string {
  const lines = [
    `rolesanywhere-sidecar ${version}: IAM Roles Anywhere credentials for workloads outside AWS`,
    '',
    'Usage: rolesanywhere-sidecar <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(SUMMARY).map(([c, s]) => `  ${c.padEnd(22)}${s}`),
    '',
    'Run "rolesanywhere-sidecar <command> --help" for the flags of a command.',
    'Every flag can also be set with an environment variable ROLESANYWHERE_<FLAG> (e.g. ROLESANYWHERE_ROLE_ARN); flags win.',
  ];
  return `${lines.join('\n')}\n`;
}

export function commandHelp(command: CommandName): string {
  const synopsis = command === 'exec' ? `rolesanywhere-sidecar exec [flags] -- <command> [args...]` : `rolesanywhere-sidecar ${command} [flags]`;
  const lines = [SUMMARY[command], '', `Usage: ${synopsis}`, ''];
  const flags = flagsFor(command).filter((f) => f.notSupported !== true);
  if (flags.length > 0) lines.push('Flags:');
  for (const f of flags) {
    const name = `--${f.name}${f.type === 'boolean' ? '' : ` ${f.arg ?? 'VALUE'}`}`;
    const dflt = f.default === undefined ? '' : ` (default ${String(f.default)})`;
    lines.push(`  ${name.padEnd(34)}${f.help}${dflt}`);
    lines.push(`  ${''.padEnd(34)}${f.noEnv === true ? 'command line only (never from the environment)' : `env: ${envName(f.name)}`}`);
  }
  const unsupported = flagsFor(command).filter((f) => f.notSupported === true);
  if (unsupported.length > 0) {
    lines.push('', `Not supported yet (refused with an error): ${unsupported.map((f) => `--${f.name}`).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
