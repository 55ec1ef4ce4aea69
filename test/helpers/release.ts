/**
 * The release artifacts for the packaging tests: `npm run package`'s second half
 * (dist/packaging/package.js; the compile already ran), built once by the test file that
 * needs them, and an environment whose PATH has no `node` on it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from './harness.js';

export const RELEASE = join(REPO_ROOT, 'dist', 'release');
export const EXECUTABLE = join(RELEASE, 'rolesanywhere-sidecar');
export const BUNDLE = join(REPO_ROOT, 'dist', 'bundle', 'rolesanywhere-sidecar.cjs');
export const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Runs dist/packaging/package.js (all artifacts, or `bundle`) and returns its output. */
export function buildRelease(args: readonly string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'packaging', 'package.js'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`package.js ${args.join(' ')} failed (${code}):\n${out.slice(-4000)}`))));
  });
}

/** PATH without any directory that holds a `node`: what a host without Node.js looks like. */
export function pathWithoutNode(path = process.env.PATH ?? ''): string {
  return path
    .split(delimiter)
    .filter((d) => d !== '' && !existsSync(join(d, 'node')))
    .join(delimiter);
}
