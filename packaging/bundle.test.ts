import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundledPackageDirs } from './bundle.js';
import { formatNotices } from './notices.js';
import { seaConfig } from './sea.js';

test('bundledPackageDirs: one entry per package, scoped and nested ones included, sources excluded', () => {
  const inputs = Object.fromEntries(
    [
      'src/cli/main.ts',
      'node_modules/undici/index.js',
      'node_modules/undici/lib/x.js',
      'node_modules/@smithy/types/dist/a.js',
      'node_modules/a/node_modules/b/i.js',
    ].map((k) => [k, { bytes: 1, imports: [] }]),
  );
  assert.deepEqual(bundledPackageDirs({ inputs, outputs: {} }), ['node_modules/@smithy/types', 'node_modules/a/node_modules/b', 'node_modules/undici']);
});

test('formatNotices names every package with its license text, or says it has none', () => {
  const text = formatNotices([
    { name: 'a', version: '1.0.0', license: 'MIT', text: 'MIT License\n' },
    { name: 'b', version: '2.0.0', license: 'ISC', text: undefined },
  ]);
  assert.match(text, /a@1\.0\.0 \(MIT\)\n=+\nMIT License\n/);
  assert.match(text, /b@2\.0\.0 \(ISC\)\n=+\nLicense: ISC \(the package ships no license file\)/);
});

test('seaConfig: no experimental warning on standard error, the code cache as asked', () => {
  const c = JSON.parse(seaConfig('/b.cjs', '/x.blob', true)) as Record<string, unknown>;
  assert.deepEqual(c, { main: '/b.cjs', output: '/x.blob', disableExperimentalSEAWarning: true, useCodeCache: true });
});
