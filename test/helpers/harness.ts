/**
 * Integration-test harness: a PKI written to a temp dir (valid NOW, since the CLI runs on
 * the real clock), the emulator in-process over HTTP or HTTPS, and the real CLI as a child
 * process with helpers to read its export lines and stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defaultEmulatorConfig,
  issueCertificate,
  startEmulator,
  type FaultPlan,
  type IssuedCertificate,
  type KeySpec,
  type RunningEmulator,
} from '../../src/emulator/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'dist', 'cmd', 'rolesanywhere-sidecar.js');

export function tempDir(prefix = 'ras-it-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface LeafFiles {
  readonly cert: string;
  readonly key: string;
  readonly issued: IssuedCertificate;
}

export interface PkiFiles {
  readonly dir: string;
  readonly root: IssuedCertificate;
  readonly intermediate: IssuedCertificate;
  readonly rootPem: string;
  readonly intermediatePem: string;
  /** RSA-2048 under the intermediate. */
  readonly rsa: LeafFiles;
  /** EC P-256 directly under the root. */
  readonly ec256: LeafFiles;
  /** EC P-384 under the intermediate. */
  readonly ec384: LeafFiles;
  /** TLS for an HTTPS emulator: CA bundle path, server cert/key PEM (SAN 127.0.0.1, localhost). */
  readonly tls: { readonly caPath: string; readonly certPem: string; readonly keyPem: string };
  /** Issues another leaf (e.g. a rotated certificate) into the dir. */
  leaf(name: string, keySpec: KeySpec, opts?: { underRoot?: boolean; notBefore?: Date; notAfter?: Date }): Promise<LeafFiles>;
}

const DAY = 86_400_000;

export async function writePki(dir = tempDir('ras-pki-')): Promise<PkiFiles> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) };
  const root = await issueCertificate({ ...validity, subject: 'CN=Integration Test Root,O=Example', keySpec: 'ec-p384', isCa: true });
  const intermediate = await issueCertificate(
    { ...validity, subject: 'CN=Integration Test Intermediate,O=Example', keySpec: 'rsa-2048', isCa: true, pathLength: 0 },
    root,
  );
  const rootPem = join(dir, 'root.pem');
  const intermediatePem = join(dir, 'intermediate.pem');
  writeFileSync(rootPem, root.certPem);
  writeFileSync(intermediatePem, intermediate.certPem);
  const leaf = async (name: string, keySpec: KeySpec, o: { underRoot?: boolean; notBefore?: Date; notAfter?: Date } = {}): Promise<LeafFiles> => {
    const issued = await issueCertificate(
      {
        subject: `CN=${name},O=Example`,
        keySpec,
        notBefore: o.notBefore ?? validity.notBefore,
        notAfter: o.notAfter ?? validity.notAfter,
      },
      o.underRoot === true ? root : intermediate,
    );
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}.key`);
    writeFileSync(cert, issued.certPem);
    writeFileSync(key, issued.keyPem, { mode: 0o600 });
    return { cert, key, issued };
  };
  const tlsCa = await issueCertificate({ ...validity, subject: 'CN=Integration TLS CA', keySpec: 'ec-p256', isCa: true });
  const tlsServer = await issueCertificate(
    { ...validity, subject: 'CN=127.0.0.1', keySpec: 'ec-p256', serverNames: { ips: ['127.0.0.1'], dns: ['localhost'] } },
    tlsCa,
  );
  const caPath = join(dir, 'tls-ca.pem');
  writeFileSync(caPath, tlsCa.certPem);
  return {
    dir,
    root,
    intermediate,
    rootPem,
    intermediatePem,
    rsa: await leaf('leaf-rsa', 'rsa-2048'),
    ec256: await leaf('leaf-ec256', 'ec-p256', { underRoot: true }),
    ec384: await leaf('leaf-ec384', 'ec-p384'),
    tls: { caPath, certPem: tlsServer.certPem, keyPem: tlsServer.keyPem },
    leaf,
  };
}

export interface EmulatorOptions {
  readonly https?: boolean;
  readonly credentialLifetimeSeconds?: number;
  readonly maxDurationSeconds?: number;
  readonly faults?: FaultPlan;
}

/** The emulator in this process (real HTTP), trusting the PKI's root. */
export async function startTestEmulator(pki: PkiFiles, o: EmulatorOptions = {}): Promise<RunningEmulator & { env: Record<string, string> }> {
  const emu = await startEmulator({
    config: defaultEmulatorConfig({
      roots: [pki.root.cert],
      ...(o.credentialLifetimeSeconds !== undefined ? { credentialLifetimeSeconds: o.credentialLifetimeSeconds } : {}),
      ...(o.maxDurationSeconds !== undefined ? { maxDurationSeconds: o.maxDurationSeconds } : {}),
    }),
    ...(o.https === true ? { tls: { certPem: pki.tls.certPem, keyPem: pki.tls.keyPem } } : {}),
    ...(o.faults !== undefined ? { faults: o.faults } : {}),
  });
  const profile = emu.config.profiles[0]!;
  const env: Record<string, string> = {
    ROLESANYWHERE_ENDPOINT: emu.url.href.replace(/\/$/, ''),
    ROLESANYWHERE_TRUST_ANCHOR_ARN: emu.config.trustAnchors[0]!.arn,
    ROLESANYWHERE_PROFILE_ARN: profile.arn,
    ROLESANYWHERE_ROLE_ARN: profile.roleArns[0]!,
  };
  if (o.https === true) env.ROLESANYWHERE_CA_BUNDLE = pki.tls.caPath;
  return Object.assign(emu, { env });
}

/** A clean environment for the CLI: PATH and HOME only, plus what the test gives. */
export function cliEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SYSTEMROOT']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How to start the CLI: the compiled script on `node` (this process's node by default), or
 * an `executable` that is the CLI itself (the single executable, an installed bin).
 */
export interface CliLauncher {
  readonly node?: string;
  readonly executable?: string;
}

function cliCommand(args: readonly string[], o: CliLauncher): [string, string[]] {
  return o.executable !== undefined ? [o.executable, [...args]] : [o.node ?? process.execPath, [CLI, ...args]];
}

/** Runs the CLI to completion. */
export function runCli(
  args: readonly string[],
  o: { env?: Record<string, string>; stdin?: string | Buffer; timeoutMs?: number } & CliLauncher = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(...cliCommand(args, o), { env: o.env ?? cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(o.stdin ?? '');
  });
}

export interface RunningCli {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until stdout holds `n` lines (e.g. serve's export lines). */
  waitForLines(n: number, timeoutMs?: number): Promise<string[]>;
  /** Waits until stderr matches. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running CLI command (serve, update, emulator). */
export function startCli(args: readonly string[], o: { env?: Record<string, string> } & CliLauncher = {}): RunningCli {
  return watchProcess(spawn(...cliCommand(args, o), { env: o.env ?? cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Collects a spawned process's output and offers waits on it (stdio must be piped). */
export function watchProcess(proc: ChildProcess): RunningCli {
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    poke();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    // A long run (a soak) logs a line per refresh; keep the tail only.
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
    poke();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('close', (code, signal) => {
      poke();
      resolve({ code, signal });
    });
  });
  let done = false;
  void exit.then(() => {
    done = true;
    poke();
  });
  const waitFor = (check: () => boolean, what: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const tick = () => {
        if (check()) {
          cleanup();
          resolve();
        } else if (done) {
          cleanup();
          reject(new Error(`process exited before ${what}; stderr:\n${err.slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; stderr:\n${err.slice(-4000)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(tick);
      };
      waiters.add(tick);
      tick();
    });
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitForLines: async (n, timeoutMs = 30_000) => {
      await waitFor(() => out.split('\n').length > n, `${n} stdout lines`, timeoutMs);
      return out.split('\n').slice(0, n);
    },
    waitForStderr: (re, timeoutMs = 30_000) => waitFor(() => re.test(err), `stderr ${re}`, timeoutMs),
    stop: async (signal = 'SIGTERM', timeoutMs = 15_000) => {
      if (!done) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const r = await exit;
      clearTimeout(t);
      return r;
    },
    exited: () => exit,
  };
}

/** `export NAME=VALUE` lines -> object. */
export function parseExports(lines: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Session flags pointing the CLI at an emulator with one leaf. */
export function sessionArgs(leaf: LeafFiles, extra: readonly string[] = []): string[] {
  return ['--certificate', leaf.cert, '--private-key', leaf.key, ...extra];
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
