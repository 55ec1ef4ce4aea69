/**
 * A software TPM of the test's own: Debian's swtpm on loopback ports, reached by the tpm2
 * OpenSSL provider and tpm2-tools through the swtpm TCTI. Keys are made in it the way a
 * user makes them (openssl genpkey -provider tpm2; tpm2_evictcontrol for a persistent
 * handle), and certificates for them issued by a test CA with the openssl command.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './harness.js';
import { requireTool } from './tools.js';

export interface SoftTpm {
  readonly dir: string;
  /** TPM2OPENSSL_TCTI and TPM2TOOLS_TCTI for the CLI and the tools. */
  readonly env: Record<string, string>;
  /** openssl with the tpm2 and default providers. */
  openssl(args: readonly string[], input?: string): string;
  tools(cmd: string, args: readonly string[]): string;
  stop(): Promise<void>;
}

/** Resolves whether `port` can be bound on loopback right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Two consecutive free ports below the kernel's ephemeral range (32768 and up), so that the
 * outgoing connections of tests running beside this one cannot take the second port between
 * the check and swtpm binding it.
 */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = 20000 + 2 * randomInt(6000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
}

function spawnSwtpm(state: string, port: number): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(
    'swtpm',
    [
      'socket',
      '--tpmstate',
      `dir=${state}`,
      '--tpm2',
      '--server',
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      '--flags',
      'not-need-init,startup-clear',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve({ child, stderr: () => err }));
  });
}

export async function startSoftTpm(): Promise<SoftTpm> {
  requireTool('swtpm', 'swtpm swtpm-tools');
  requireTool('tpm2_createprimary', 'tpm2-tools');
  const dir = tempDir('ras-swtpm-');
  const state = join(dir, 'state');
  mkdirSync(state);
  const failures: string[] = [];
  // A port can still be taken between the check and swtpm's bind: start again on new ports.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePortPair();
    const { child, stderr } = await spawnSwtpm(state, port);
    const tcti = `swtpm:host=127.0.0.1,port=${port}`;
    const env = { TPM2OPENSSL_TCTI: tcti, TPM2TOOLS_TCTI: tcti };
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env };
    const tpm: SoftTpm = {
      dir,
      env,
      openssl: (args, input) => execFileSync('openssl', [...args], { env: base, encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] }),
      tools: (cmd, args) => execFileSync(cmd, [...args], { env: base, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
      stop: () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
    // Wait until it answers (or exits: a port taken after all).
    for (let i = 0; ; i++) {
      try {
        tpm.tools('tpm2_getcap', ['properties-fixed']);
        return tpm;
      } catch (e) {
        if (child.exitCode !== null || i > 200) {
          failures.push(`port ${port}: ${stderr().trim() || (e as Error).message}`);
          await tpm.stop();
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  throw new Error(`swtpm did not start: ${failures.join('; ')}`);
}

const PROVIDERS = ['-provider', 'tpm2', '-provider', 'default'];

/** A key made inside the TPM, written as TSS2 PEM; optionally with a password. */
export function createTss2Key(tpm: SoftTpm, name: string, alg: 'rsa' | 'p256' | 'p384', password?: string): string {
  const out = join(tpm.dir, `${name}.tss2.pem`);
  const pkeyopts =
    alg === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', `group:${alg === 'p256' ? 'P-256' : 'P-384'}`];
  tpm.openssl(['genpkey', ...PROVIDERS, ...pkeyopts, ...(password !== undefined ? ['-pkeyopt', `user-auth:${password}`] : []), '-out', out]);
  return out;
}

/** An ECDSA P-256 key made with tpm2-tools and made persistent at `handle`. */
export function createPersistentKey(tpm: SoftTpm, handle: string): void {
  const d = tpm.dir;
  tpm.tools('tpm2_createprimary', ['-C', 'o', '-c', join(d, 'primary.ctx'), '-Q']);
  tpm.tools('tpm2_create', ['-C', join(d, 'primary.ctx'), '-G', 'ecc256:ecdsa-sha256', '-u', join(d, 'k.pub'), '-r', join(d, 'k.priv'), '-Q']);
  tpm.tools('tpm2_flushcontext', ['-t']);
  tpm.tools('tpm2_load', ['-C', join(d, 'primary.ctx'), '-u', join(d, 'k.pub'), '-r', join(d, 'k.priv'), '-c', join(d, 'k.ctx'), '-Q']);
  tpm.tools('tpm2_evictcontrol', ['-C', 'o', '-c', join(d, 'k.ctx'), handle, '-Q']);
  tpm.tools('tpm2_flushcontext', ['-t']);
}

/**
 * The test CA (PEM certificate and key) signs `csr` into `<name>.pem` as a workload
 * certificate; `extra` goes to `openssl x509 -req` (e.g. `-force_pubkey`).
 */
function signWorkloadCsr(tpm: SoftTpm, csr: string, name: string, ca: { certPem: string; keyPem: string }, extra: readonly string[] = []): string {
  const d = tpm.dir;
  const caCert = join(d, `${name}-ca.pem`);
  const caKey = join(d, `${name}-ca.key`);
  writeFileSync(caCert, ca.certPem);
  writeFileSync(caKey, ca.keyPem, { mode: 0o600 });
  const ext = join(d, `${name}.ext`);
  writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  const cert = join(d, `${name}.pem`);
  const serial = `0x${randomBytes(16).toString('hex')}`;
  tpm.openssl(['x509', '-req', '-in', csr, ...extra, '-CA', caCert, '-CAkey', caKey, '-days', '30', '-set_serial', serial, '-extfile', ext, '-out', cert]);
  return cert;
}

/** Has the CA issue a workload certificate for the TPM key (a CSR the TPM signs). */
export function issueForTpmKey(tpm: SoftTpm, key: string, name: string, ca: { certPem: string; keyPem: string }, password?: string): string {
  const csr = join(tpm.dir, `${name}.csr`);
  const passin = password !== undefined ? ['-passin', `pass:${password}`] : [];
  tpm.openssl(['req', ...PROVIDERS, '-new', '-key', key, ...passin, '-subj', `/CN=${name}/O=Example`, '-out', csr]);
  return signWorkloadCsr(tpm, csr, name, ca);
}

/** Debian's tpm2-pkcs11 module (libtpm2-pkcs11-1), by multiarch directory. */
export function tpm2Pkcs11Library(): string {
  const found = [`/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/pkcs11/libtpm2_pkcs11.so`, '/usr/lib/pkcs11/libtpm2_pkcs11.so'].find(
    (p) => existsSync(p),
  );
  if (found === undefined) throw new Error('libtpm2_pkcs11.so is not installed: apt-get install libtpm2-pkcs11-1 (.ci/run installs it)');
  return found;
}

/**
 * A tpm2-pkcs11 token backed by this TPM, initialised through PKCS#11 itself (C_InitToken and
 * C_InitPIN with OpenSC's pkcs11-tool, which tpm2-pkcs11 supports besides its tpm2_ptool),
 * and an EC P-256 key generated inside the TPM under `keyLabel`. Returns the environment the
 * module needs (its TCTI and its object store) and the key's public half as PEM.
 */
export function createTpm2Pkcs11Key(tpm: SoftTpm, token: string, keyLabel: string, pin: string): { env: Record<string, string>; publicKeyPem: string } {
  requireTool('pkcs11-tool', 'opensc');
  const store = join(tpm.dir, 'tpm2-pkcs11-store');
  mkdirSync(store, { recursive: true });
  const env = { TPM2_PKCS11_TCTI: tpm.env.TPM2TOOLS_TCTI!, TPM2_PKCS11_STORE: store, TPM2_PKCS11_LOG_LEVEL: '0' };
  const module = tpm2Pkcs11Library();
  const p11 = (args: readonly string[]) =>
    execFileSync('pkcs11-tool', ['--module', module, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const soPin = `so-${pin}`;
  p11(['--init-token', '--label', token, '--so-pin', soPin]);
  p11(['--token-label', token, '--login', '--login-type', 'so', '--so-pin', soPin, '--init-pin', '--pin', pin]);
  p11(['--token-label', token, '--login', '--pin', pin, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', keyLabel, '--id', '01']);
  const der = join(tpm.dir, `${keyLabel}.pub.der`);
  p11(['--token-label', token, '--read-object', '--type', 'pubkey', '--label', keyLabel, '-o', der]);
  const pem = join(tpm.dir, `${keyLabel}.pub.pem`);
  writeFileSync(pem, createPublicKey({ key: readFileSync(der), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }));
  return { env, publicKeyPem: pem };
}

/** Has the CA issue a workload certificate for a key it has only the public half of. */
export function issueForPublicKey(tpm: SoftTpm, publicKeyPem: string, name: string, ca: { certPem: string; keyPem: string }): string {
  // A CSR needs a signature by the subject's key; openssl's -force_pubkey then puts the
  // token's public key in the certificate instead of the throw-away one that signed the CSR.
  const throwAway = join(tpm.dir, `${name}-csr.key`);
  tpm.openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', throwAway]);
  const csr = join(tpm.dir, `${name}.csr`);
  tpm.openssl(['req', '-new', '-key', throwAway, '-subj', `/CN=${name}/O=Example`, '-out', csr]);
  return signWorkloadCsr(tpm, csr, name, ca, ['-force_pubkey', publicKeyPem]);
}
