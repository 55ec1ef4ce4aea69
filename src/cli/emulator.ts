// The emulator issues certificates with @peculiar/x509, which resolves its parsers through
// tsyringe: the Reflect metadata polyfill must be installed before it loads, so first.
import 'reflect-metadata';
import { SidecarError } from '../core/errors.js';
import { MAX_CA_BUNDLE_BYTES, parseCaBundle } from '../identity/ca-bundle.js';
import { readFileBounded } from '../io/files.js';
import type { Options } from '../config/parse.js';
import { defaultEmulatorConfig, parseFaultSpec, parseStsRoleSpecs, startEmulator, type RunningEmulator } from '../emulator/index.js';
import { isLoopbackHost } from '../serve/index.js';
import type { AdminCredentials } from '../emulator/control/index.js';
import { loggerFrom } from './context.js';
import { openState, type PersistedState } from './emulator-state.js';
import { writeOut, type CliIo } from './io.js';
import { readCertsExample } from './certs-example.js';

function readNamed(path: string, origin: string): Promise<Buffer> {
  return readFileBounded(path, {
    maxBytes: MAX_CA_BUNDLE_BYTES,
    tooLarge: () =>
      new SidecarError(
        'INPUT_TOO_LARGE',
        `${path} given by ${origin} is larger than ${MAX_CA_BUNDLE_BYTES} bytes: give a PEM file holding only the CA certificates`,
      ),
    unreadable: (code, cause) => new SidecarError('FILE_UNREADABLE', `cannot read ${path} given by ${origin} (${code}): fix the path`, { cause }),
  });
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function randomChars(io: CliIo, alphabet: string, n: number): string {
  // Both alphabets divide 256 evenly (32, 64), so a byte modulo the size is unbiased.
  return [...io.random.bytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** The control plane's admin key pair: the flags (or their variables), else a random pair. */
export function adminCredentialsFrom(opts: Options, io: CliIo): { credentials: AdminCredentials; generated: boolean } {
  const id = opts.str('admin-access-key-id');
  const secret = opts.str('admin-secret-access-key');
  if ((id === undefined) !== (secret === undefined)) {
    throw new SidecarError('CONFIG_INVALID', '--admin-access-key-id and --admin-secret-access-key go together: give both, or neither for a random pair');
  }
  if (id !== undefined && secret !== undefined) {
    if (!/^[A-Z0-9]{16,128}$/.test(id))
      throw new SidecarError(
        'CONFIG_INVALID',
        `${opts.origin('admin-access-key-id')} must be 16 to 128 upper-case letters and digits, like an AWS access key id`,
      );
    if (secret.length < 16 || secret.length > 128 || /\s/.test(secret))
      throw new SidecarError('CONFIG_INVALID', `${opts.origin('admin-secret-access-key')} must be 16 to 128 characters without spaces`);
    return { credentials: { accessKeyId: id, secretAccessKey: secret }, generated: false };
  }
  return { credentials: { accessKeyId: `AKIA${randomChars(io, KEY_ALPHABET, 16)}`, secretAccessKey: randomChars(io, SECRET_ALPHABET, 40) }, generated: true };
}

export interface StartedEmulator extends RunningEmulator {
  readonly admin: { readonly credentials: AdminCredentials; readonly generated: boolean };
}

/** Starts the emulator described by the emulator flags; shared by `emulator` and `demo`. */
export async function startEmulatorFromOptions(opts: Options, io: CliIo, extra: { tls?: { certPem: string; keyPem: string } } = {}): Promise<StartedEmulator> {
  const logger = loggerFrom(opts, io, { command: 'emulator' });
  const caPath = opts.str('trust-anchor-ca');
  const roots = parseCaBundle(
    (caPath !== undefined ? await readNamed(caPath, opts.origin('trust-anchor-ca')) : await readCertsExample('root-ca.pem')).toString('utf8'),
  );
  const lifetime = opts.num('credential-lifetime');
  const config = defaultEmulatorConfig({
    roots,
    accountId: opts.str('account') ?? '123456789012',
    region: opts.str('emulator-region') ?? 'us-east-1',
    maxDurationSeconds: opts.ranged('max-duration', 900, 43200) ?? 3600,
    ...(lifetime !== undefined ? { credentialLifetimeSeconds: lifetime } : {}),
  });
  const host = opts.str('address') ?? '127.0.0.1';
  if (!isLoopbackHost(host) && !opts.bool('allow-non-loopback')) {
    throw new SidecarError('ADDRESS_NOT_ALLOWED', `the emulator binds loopback only by default; ${host} needs --allow-non-loopback`);
  }
  // The emulator has no well-known port: a free one unless asked for.
  const port = opts.parsed.origin.has('port') ? (opts.ranged('port', 0, 65535) ?? 0) : 0;
  let tls = extra.tls;
  const certPath = opts.str('tls-cert');
  const keyPath = opts.str('tls-key');
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new SidecarError('CONFIG_INVALID', '--tls-cert and --tls-key go together: give both to serve HTTPS, or neither for HTTP');
  }
  if (certPath !== undefined && keyPath !== undefined) {
    tls = {
      certPem: (await readNamed(certPath, '--tls-cert')).toString('utf8'),
      keyPem: (await readNamed(keyPath, '--tls-key')).toString('utf8'),
    };
  }
  const fault = opts.str('fault');
  const admin = adminCredentialsFrom(opts, io);
  const statePath = opts.str('state');
  const persisted: PersistedState | undefined =
    statePath !== undefined ? await openState(statePath, config, { clock: io.clock, random: io.random }) : undefined;
  const assumable = opts.str('assumable-role');
  const disabled = opts.str('sts-disabled-region');
  const sts = {
    roles: assumable !== undefined ? parseStsRoleSpecs(assumable, config.profiles[0]!.roleArns[0]!) : [],
    ...(disabled !== undefined
      ? {
          disabledRegions: disabled
            .split(',')
            .map((r) => r.trim())
            .filter((r) => r !== ''),
        }
      : {}),
  };
  const emu = await startEmulator({
    sts,
    config,
    adminCredentials: admin.credentials,
    ...(persisted !== undefined ? { store: persisted.store } : {}),
    host,
    port,
    clock: io.clock,
    random: io.random,
    logger,
    adminApi: opts.bool('admin-api'),
    ...(tls !== undefined ? { tls } : {}),
    ...(fault !== undefined ? { faults: parseFaultSpec(fault) } : {}),
  }).catch(async (e: unknown) => {
    await persisted?.close();
    throw e;
  });
  return {
    ...emu,
    admin,
    stop: async () => {
      await emu.stop();
      await persisted?.close();
    },
  };
}

/** The env lines that point a sidecar at this emulator. */
export function emulatorEnv(emu: RunningEmulator): Array<[string, string]> {
  const world = emu.store.view();
  const anchor = world.trustAnchors[0] ?? emu.config.trustAnchors[0]!;
  const profile = world.profiles[0] ?? emu.config.profiles[0]!;
  return [
    ['ROLESANYWHERE_ENDPOINT', emu.url.href.replace(/\/$/, '')],
    ['ROLESANYWHERE_TRUST_ANCHOR_ARN', anchor.arn],
    ['ROLESANYWHERE_PROFILE_ARN', profile.arn],
    ['ROLESANYWHERE_ROLE_ARN', profile.roleArns[0]!],
    // The first assumable role, as the chaining flag's variable.
    ...(emu.stsSettings().roles.length > 0 ? ([['ROLESANYWHERE_ASSUME_ROLE_ARN', emu.stsSettings().roles[0]!.arn]] as Array<[string, string]>) : []),
  ];
}

/** `emulator`: runs until SIGTERM/SIGINT, printing the settings a sidecar needs. */
export async function emulator(opts: Options, io: CliIo): Promise<number> {
  const emu = await startEmulatorFromOptions(opts, io);
  await writeOut(
    io.stdout,
    emulatorEnv(emu)
      .map(([k, v]) => `export ${k}=${v}\n`)
      .join(''),
  );
  if (emu.admin.generated) {
    // The control plane's key pair is for this local emulator only; stderr, so stdout stays `eval`-able.
    await writeOut(
      io.stderr,
      `rolesanywhere-sidecar: emulator control plane admin key pair (choose one with --admin-access-key-id/--admin-secret-access-key):\n` +
        `export AWS_ACCESS_KEY_ID=${emu.admin.credentials.accessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${emu.admin.credentials.secretAccessKey}\n`,
    );
  }
  const offs: Array<() => void> = [];
  await new Promise<void>((resolve) => {
    offs.push(io.onSignal('SIGTERM', resolve), io.onSignal('SIGINT', resolve));
  });
  for (const off of offs) off();
  await emu.stop();
  return 0;
}
