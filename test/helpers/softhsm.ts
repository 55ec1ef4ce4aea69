/**
 * A SoftHSM2 token of the test's own: its own softhsm2.conf and token directory (nothing
 * global), initialised with softhsm2-util, keys imported with softhsm2-util and
 * certificates written with OpenSC's pkcs11-tool, as an administrator would.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './harness.js';
import { requireTool } from './tools.js';

export const SOFTHSM_LIB = '/usr/lib/softhsm/libsofthsm2.so';
export const USER_PIN = '7319-42-pin';
const SO_PIN = '87654321';

export interface SoftHsm {
  readonly dir: string;
  readonly conf: string;
  readonly tokenDir: string;
  /** SOFTHSM2_CONF for the CLI's environment. */
  readonly env: Record<string, string>;
  /** Imports a PEM key (any PKCS#8 / SEC1 / PKCS#1) under `label` and `idHex`. */
  importKey(token: string, keyPem: string, label: string, idHex: string): void;
  /** Writes a PEM certificate as a certificate object. */
  importCertificate(token: string, certPem: string, label: string, idHex: string): void;
  /** Initialises another token. */
  initToken(label: string): void;
  /** Deletes an object (by type and label). */
  deleteObject(token: string, type: 'cert' | 'privkey', label: string): void;
}

function run(cmd: string, args: string[], env: Record<string, string>): string {
  return execFileSync(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createSoftHsm(tokens: readonly string[]): SoftHsm {
  requireTool('softhsm2-util', 'softhsm2');
  requireTool('pkcs11-tool', 'opensc');
  const dir = tempDir('ras-softhsm-');
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  const hsm: SoftHsm = {
    dir,
    conf,
    tokenDir,
    env,
    initToken(label) {
      run('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', USER_PIN, '--so-pin', SO_PIN], env);
    },
    importKey(token, keyPem, label, idHex) {
      const file = join(dir, `${label}-${idHex}.p8`);
      writeFileSync(file, createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      run('softhsm2-util', ['--import', file, '--token', token, '--label', label, '--id', idHex, '--pin', USER_PIN], env);
    },
    importCertificate(token, certPem, label, idHex) {
      const file = join(dir, `${label}-${idHex}.der`);
      writeFileSync(file, new X509Certificate(certPem).raw);
      run(
        'pkcs11-tool',
        [
          '--module',
          SOFTHSM_LIB,
          '--token-label',
          token,
          '--login',
          '--pin',
          USER_PIN,
          '--write-object',
          file,
          '--type',
          'cert',
          '--label',
          label,
          '--id',
          idHex,
        ],
        env,
      );
    },
    deleteObject(token, type, label) {
      run(
        'pkcs11-tool',
        ['--module', SOFTHSM_LIB, '--token-label', token, '--login', '--pin', USER_PIN, '--delete-object', '--type', type, '--label', label],
        env,
      );
    },
  };
  for (const t of tokens) hsm.initToken(t);
  return hsm;
}
