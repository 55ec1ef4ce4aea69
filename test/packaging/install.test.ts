/**
 * `npm ci` works on every platform, and npm scripts run on the Node that runs npm. Checked on
 * the lock file, because this machine is linux-x64 only: npm refuses a package whose `os` or
 * `cpu` does not match the machine unless it is optional (then it is left out), so a lock
 * whose platform-bound packages are all optional installs on macOS and arm64 too; and a
 * package with a `bin` named `node` would put node_modules/.bin/node first on every npm
 * script's PATH. `engines` must not promise a Node older than a runtime dependency needs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { repoPath } from './cli-flags.js';

interface LockEntry {
  version?: string;
  os?: string[];
  cpu?: string[];
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  bin?: Record<string, string>;
  engines?: { node?: string };
}
const lock = JSON.parse(readFileSync(repoPath('package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
const installed = Object.entries(lock.packages).filter(([path]) => path !== '');

test('every platform-bound package in the lock is optional, so npm ci installs on macOS and arm64', () => {
  const bound = installed.filter(([, e]) => e.os !== undefined || e.cpu !== undefined);
  assert.ok(bound.length > 0, "esbuild's per-platform binaries are in the lock");
  const hard = bound.filter(([, e]) => e.optional !== true).map(([p, e]) => `${p} (${[...(e.os ?? []), ...(e.cpu ?? [])].join(', ')})`);
  assert.deepEqual(hard, []);
});

test('no dependency installs a `node` executable that would shadow the Node running npm scripts', () => {
  assert.deepEqual(
    installed.filter(([, e]) => e.bin !== undefined && 'node' in e.bin).map(([p]) => p),
    [],
  );
  assert.equal(Object.keys(pkg.devDependencies).filter((n) => /^node-(linux|darwin|win)-/.test(n)).length, 0);
});

/** [major, minor, patch] of a `>=X[.Y[.Z]]` range; undefined for other range forms. */
function floor(range: string): number[] | undefined {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  return m === null ? undefined : [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}
const atLeast = (a: number[], b: number[]): boolean => (a[0]! !== b[0]! ? a[0]! > b[0]! : a[1]! !== b[1]! ? a[1]! > b[1]! : a[2]! >= b[2]!);

test('engines.node is at least what every runtime dependency needs (undici 7: 20.18.1)', () => {
  const ours = floor(pkg.engines.node);
  assert.ok(ours !== undefined, `engines.node ${pkg.engines.node} is a >= range`);
  const needs = installed
    .filter(([, e]) => e.dev !== true && e.devOptional !== true && e.engines?.node !== undefined)
    .map(([p, e]) => ({ p, range: e.engines!.node!, min: floor(e.engines!.node!.split('||').pop()!) }))
    .filter((x) => x.min !== undefined);
  assert.ok(
    needs.some((x) => x.p === 'node_modules/undici'),
    'undici states its engines',
  );
  const unmet = needs.filter((x) => !atLeast(ours, x.min!)).map((x) => `${x.p} needs ${x.range}`);
  assert.deepEqual(unmet, []);
});
