/**
 * What a command loads, recorded by test/helpers/module-trace.js in the real CLI process:
 * `credential-process` on a cache hit (run at every SDK process start) must answer without
 * the certificate parsers, the HTTP client, PKCS#12 code or the metrics library. Timings
 * are measured in bench/ (`npm run bench -- startup`), never asserted here.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanup, cliEnv, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';

const TRACER = fileURLToPath(new URL('../helpers/module-trace.js', import.meta.url));

/** Packages and project modules a cache hit has no use for. */
const HEAVY_PACKAGES = ['node-forge', 'undici', '@peculiar/x509', 'prom-client', 'reflect-metadata', '@smithy/signature-v4', '@aws-crypto'];
const HEAVY_PROJECT = [
  '/src/identity/load.js',
  '/src/identity/certificate.js',
  '/src/identity/pkcs12.js',
  '/src/identity/private-key.js',
  '/src/session/client.js',
  '/src/session/http.js',
  '/src/signing/',
  '/src/serve/',
  '/src/telemetry/metrics.js',
];

let dir: string;
let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;

before(async () => {
  dir = tempDir('ras-modules-');
  pki = await writePki(join(dir));
  emu = await startTestEmulator(pki, { https: true });
});

after(async () => {
  await emu?.stop();
  if (dir) cleanup(dir);
});

async function traced(args: readonly string[], name: string, stdin?: string): Promise<{ stdout: string; modules: string[] }> {
  const trace = join(dir, `${name}.trace`);
  rmSync(trace, { force: true });
  const r = await runCli(args, {
    env: cliEnv({ ...emu.env, NODE_OPTIONS: `--import=${TRACER}`, MODULE_TRACE_FILE: trace }),
    ...(stdin !== undefined ? { stdin } : {}),
  });
  assert.equal(r.code, 0, `${name}: exit ${r.code}, stderr: ${r.stderr}`);
  const modules = [
    ...new Set(
      readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    ),
  ];
  // The tracer itself works: it saw the command's own module and node: built-ins.
  assert.ok(
    modules.some((m) => m.endsWith('/src/cli/credential-process.js')),
    `${name}: the trace has the command module`,
  );
  return { stdout: r.stdout, modules };
}

function loaded(modules: readonly string[], needles: readonly string[]): string[] {
  const has = (m: string, n: string) => (n.startsWith('node:') ? m === n : n.startsWith('/') ? m.includes(n) : m.includes(`/node_modules/${n}/`));
  return needles.filter((n) => modules.some((m) => has(m, n)));
}

test('credential-process on a cache hit loads no certificate parser, HTTP client, PKCS#12 or metrics code', async () => {
  const args = ['credential-process', ...sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem]), '--cache-dir', join(dir, 'cache')];
  const before = emu.stats().createSession.ok;
  const miss = await traced(args, 'miss');
  // The miss is the control: the same tracer sees the HTTP client when it is used.
  assert.deepEqual(loaded(miss.modules, ['node:https', '/src/identity/load.js', '/src/session/client.js']), [
    'node:https',
    '/src/identity/load.js',
    '/src/session/client.js',
  ]);
  assert.deepEqual(
    loaded(miss.modules, ['node-forge', 'prom-client', '/src/serve/']),
    [],
    'a PEM identity needs no PKCS#12 code, and credential-process no metrics',
  );
  assert.deepEqual(loaded(miss.modules, ['undici', '/src/session/proxy-dispatcher.js']), [], 'a direct connection needs no proxy client');
  assert.deepEqual(loaded(miss.modules, ['@aws-sdk/client-sts', '/src/chain/']), [], 'without --assume-role-arn no STS client is loaded');

  const hit = await traced(args, 'hit');
  assert.equal(emu.stats().createSession.ok - before, 1, 'the second run was a cache hit');
  assert.equal(hit.stdout, miss.stdout, 'the hit printed the cached credentials');
  assert.deepEqual(loaded(hit.modules, [...HEAVY_PACKAGES, ...HEAVY_PROJECT]), []);
  assert.ok(
    !hit.modules.some((m) => m.includes('/node_modules/')),
    `no package at all on a cache hit: ${hit.modules.filter((m) => m.includes('/node_modules/')).join(', ')}`,
  );
});

test('a rotated certificate misses the cache; the hit from standard input still reads the certificate once', async () => {
  const cacheDir = join(dir, 'cache-stdin');
  const certAndKey = readFileSync(pki.ec384.cert, 'utf8') + readFileSync(pki.ec384.key, 'utf8');
  const args = ['credential-process', '--certificate', '-', '--intermediates', pki.intermediatePem, '--cache-dir', cacheDir];
  const before = emu.stats().createSession.ok;
  const first = await traced(args, 'stdin-miss', certAndKey);
  const second = await traced(args, 'stdin-hit', certAndKey);
  assert.equal(second.stdout, first.stdout);
  assert.deepEqual(loaded(second.modules, ['undici', '/src/identity/load.js']), []);
  assert.equal(emu.stats().createSession.ok - before, 1);

  const rotated = await pki.leaf('rotated', 'ec-p256', { underRoot: true });
  const third = await traced(['credential-process', ...sessionArgs(rotated), '--cache-dir', cacheDir], 'rotated');
  assert.notEqual(third.stdout, first.stdout, 'another certificate selects another cache entry');
  assert.equal(emu.stats().createSession.ok - before, 2);
});
