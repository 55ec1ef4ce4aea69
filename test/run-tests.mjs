#!/usr/bin/env node
// Runs every compiled test file (unit tests beside the code, integration tests in test/)
// with Node's own test runner. Usage: node test/run-tests.mjs [filter-substring...]
import { readdirSync, statSync } from 'node:fs';
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

const filters = process.argv.slice(2);
console.log(`# running tests on Node ${process.version} (${process.execPath})`);
const files = walk('dist', [])
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
// @peculiar/x509 (the emulator's certificate issuing, test PKIs) resolves its parsers through
// tsyringe, which needs the Reflect metadata polyfill loaded first: the CLI installs it in
// the commands that use the emulator, the test processes here.
const r = spawnSync(process.execPath, ['--import', 'reflect-metadata', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
