#!/usr/bin/env node
// Runs every compiled test file (unit tests beside the code, integration tests in test/)
// with Node's own test runner. Usage: node test/run-tests.mjs [filter-substring...]
// `npm test` cleans dist/ and builds first; run directly, a compiled test whose source was
// deleted is removed here rather than run from a stale build.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

if (!existsSync('dist')) {
  console.error('no dist/ (run npm run build, or npm test, which builds)');
  process.exit(1);
}
const filters = process.argv.slice(2);
console.log(`# running tests on Node ${process.version} (${process.execPath})`);
const compiled = walk('dist', []);
for (const f of compiled.filter((x) => !existsSync(x.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts')))) {
  console.log(`# removing ${f}: its source is gone`);
  rmSync(f);
}
const files = compiled
  .filter((f) => existsSync(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}

// Node 24 for the ML-DSA tests comes from the registry into .cache/node24 (see
// test/helpers/node24.ts); the tests find it through RAS_NODE24. Without it they skip,
// except under CI=true, where they fail.
const env = { ...process.env };
if (files.some((f) => f.includes('mldsa'))) {
  const { ensureNode24 } = await import('../dist/test/helpers/node24.js');
  const r = ensureNode24();
  if ('path' in r) env.RAS_NODE24 = r.path;
  else console.log(`# Node 24 unavailable: ${r.error}`);
}

// @peculiar/x509 (the emulator's certificate issuing, test PKIs) resolves its parsers through
// tsyringe, which needs the Reflect metadata polyfill loaded first: the CLI installs it in
// the commands that use the emulator, the test processes here.
const r = spawnSync(process.execPath, ['--import', 'reflect-metadata', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
