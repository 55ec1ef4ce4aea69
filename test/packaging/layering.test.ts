/**
 * The folders of src/ form the intended graph: identity sources -> signing -> session
 * client -> cache and refresher -> endpoints and sinks, wired only in src/cli. Read from the
 * import statements of every non-test source file, so a new edge against the graph fails
 * here instead of being found in review.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { repoPath } from './cli-flags.js';

/** What each folder may import besides itself. cli may import anything. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: [],
  io: ['core'],
  config: ['core'],
  telemetry: ['core'],
  identity: ['core', 'io'],
  signing: ['core', 'identity'],
  session: ['core', 'identity', 'signing'],
  chain: ['core', 'session'],
  cache: ['core', 'io'],
  refresh: ['core', 'io'],
  sinks: ['core', 'io'],
  serve: ['core', 'io', 'telemetry'],
  sdk: ['core', 'config', 'identity', 'session', 'signing'],
  emulator: ['core', 'identity', 'signing'],
};

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const SRC = repoPath('src');
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

interface Edge {
  file: string;
  from: string;
  to: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file).split(sep);
    if (rel.length < 2) continue; // src/index.ts: the package entry point re-exports the library
    const from = rel[0]!;
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(SRC, join(file, '..', spec)).split(sep);
      out.push({ file: relative(repoPath(), file), from, to: target[0] === '..' ? target.slice(0, 2).join('/') : target.length > 1 ? target[0]! : '(src)' });
    }
  }
  return out;
}

test('src/ folders import only the folders below them; only src/cli wires them together', () => {
  const all = edges();
  assert.ok(all.length > 100, `read ${all.length} imports`);
  const folders = new Set(all.map((e) => e.from));
  for (const f of folders) assert.ok(f === 'cli' || f in ALLOWED, `src/${f}/ is not in the layering table: add it`);
  const wrong = all
    .filter((e) => e.from !== e.to && e.from !== 'cli')
    .filter((e) => !(ALLOWED[e.from] ?? []).includes(e.to))
    .map((e) => `${e.file} imports ${e.to}/`);
  assert.deepEqual(wrong, []);
});

test('nothing in src/ imports from test/ or bench/', () => {
  const out = edges().filter((e) => e.to.startsWith('../'));
  assert.deepEqual(
    out.map((e) => `${e.file} imports ${e.to}`),
    [],
  );
});
