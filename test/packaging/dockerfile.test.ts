/**
 * Static checks of the Dockerfile (no container engine needed): the image is multi-stage,
 * built with `npm ci` from the lock file, ships only the compiled CLI and production
 * dependencies, runs as a numeric non-root user, and its base image is pinnable by digest
 * without the file carrying a digest nobody verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { repoPath, SERVE_FLAGS } from './cli-flags.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/**
 * Dockerfile -> instructions: joins `\` continuations, drops comment lines (also those
 * inside a continuation, as Docker does) and blank lines.
 */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && buf === '')) continue;
    if (buf === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      buf += trimmed.slice(0, -1).trimEnd() + ' ';
      continue;
    }
    buf += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buf.trim());
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  }
  assert.equal(buf, '', 'the Dockerfile ends inside a line continuation');
  return out;
}

function stages(instructions: Instruction[]): { preamble: Instruction[]; stages: Stage[] } {
  const preamble: Instruction[] = [];
  const result: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `unparsable FROM at line ${ins.line}: ${ins.args}`);
      result.push({ from: m[1]!, name: m[2], instructions: [] });
    } else if (result.length === 0) {
      preamble.push(ins);
    } else {
      result[result.length - 1]!.instructions.push(ins);
    }
  }
  return { preamble, stages: result };
}

/** COPY/ADD arguments -> options, sources, destination (shell form and JSON form). */
function copyArgs(args: string): { from: string | undefined; sources: string[]; dest: string } {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const opts = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = opts.find((o) => o.startsWith('--from='))?.slice('--from='.length);
  assert.ok(paths.length >= 2, `COPY needs a source and a destination: ${args}`);
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1]! };
}

const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const { preamble, stages: allStages } = stages(instructions);
const runtime = allStages[allStages.length - 1]!;
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { bin: Record<string, string> };

test('the parser joins continuations and skips comments', () => {
  const parsed = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  # inner comment\n  && y\n\nUSER 1:1\n');
  assert.deepEqual(
    parsed.map((i) => [i.keyword, i.args]),
    [
      ['FROM', 'a AS b'],
      ['RUN', 'x && y'],
      ['USER', '1:1'],
    ],
  );
});

test('multi-stage build, every stage on the NODE_IMAGE build argument', () => {
  assert.ok(allStages.length >= 2, `expected at least 2 FROM, found ${allStages.length}`);
  const arg = preamble.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='));
  assert.ok(arg, 'ARG NODE_IMAGE=<image> must come before the first FROM');
  assert.match(arg.args, /^NODE_IMAGE=node:\d+[-.\w]*$/, 'default base image: an official node tag');
  for (const s of allStages) {
    // A stage may also build on an earlier stage by name.
    const earlier = allStages.slice(0, allStages.indexOf(s)).map((x) => x.name);
    assert.ok(s.from === '${NODE_IMAGE}' || earlier.includes(s.from), `stage ${s.name ?? '?'} is FROM ${s.from}, not \${NODE_IMAGE}`);
  }
});

test('digest pinning is documented, and no unverified digest is hard-coded', () => {
  assert.match(dockerfile, /--build-arg NODE_IMAGE=node:[^\s@]+@sha256:/, 'document the --build-arg NODE_IMAGE=...@sha256: pinning step');
  assert.match(dockerfile, /imagetools inspect/, 'document how to look the digest up');
  assert.doesNotMatch(dockerfile, /sha256:[0-9a-f]{64}/, 'a literal digest in the file would be one nobody looked up');
});

test('dependencies from the lock file with npm ci; dev dependencies left out of the runtime', () => {
  const runs = allStages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
  assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)), 'npm ci');
  assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'npm install resolves outside the lock file: use npm ci');
  assert.ok(runs.some((r) => /\bnpm run build\b|\btsc -p /.test(r)), 'a TypeScript build step');
  assert.ok(
    runs.some((r) => /npm ci\b[^&;]*--omit=dev/.test(r) || /npm prune\b[^&;]*--omit=dev/.test(r)),
    'production dependencies: npm ci --omit=dev or npm prune --omit=dev',
  );
  assert.ok(runs.some((r) => /-name '\*\.test\.js\*' -delete/.test(r)), 'compiled unit tests are deleted from dist/');
});

test('an image-only tsconfig extends the repository one and leaves the unit tests out', () => {
  const build = allStages.find((st) => st.instructions.some((i) => i.keyword === 'RUN' && /\btsc -p /.test(i.args)));
  if (build === undefined) return; // built with npm run build instead
  const run = build.instructions.find((i) => i.keyword === 'RUN' && /\btsc -p /.test(i.args))!.args;
  const config = /tsc -p (\S+)/.exec(run)![1]!;
  const inline = new RegExp(`printf '%s' '(\\{.*?\\})' > ${config.replace('.', '\\.')}`).exec(run);
  assert.ok(inline, `${config} is written by the same RUN (the repository has no such file)`);
  const tsconfig = JSON.parse(inline[1]!) as { extends: string; include: string[]; exclude: string[] };
  assert.equal(tsconfig.extends, './tsconfig.json');
  const copied = build.instructions.filter((i) => i.keyword === 'COPY').flatMap((i) => copyArgs(i.args).sources);
  assert.ok(copied.includes('tsconfig.json'));
  for (const inc of tsconfig.include) assert.ok(copied.includes(inc.split('/')[0]!), `${inc}: its folder is copied in`);
  assert.ok(tsconfig.exclude.includes('**/*.test.ts'), 'unit tests are not compiled into the image');
  // Same output layout as `npm run build`, so the ENTRYPOINT path holds for both.
  const base = JSON.parse(readFileSync(repoPath('tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
  assert.equal(base.compilerOptions.outDir, 'dist');
  assert.equal(base.compilerOptions.rootDir, '.');
});

test('every COPY from the build context names a path that exists and is not .dockerignored', () => {
  const ignored = readFileSync(repoPath('.dockerignore'), 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const fromContext = allStages.flatMap((s) =>
    s.instructions
      .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
      .map((i) => copyArgs(i.args))
      .filter((c) => c.from === undefined),
  );
  assert.ok(fromContext.length > 0);
  for (const c of fromContext) {
    for (const src of c.sources) {
      assert.ok(existsSync(repoPath(src)), `COPY source ${src} does not exist in the repository`);
      assert.ok(!ignored.includes(src) && !ignored.includes(`/${src}`), `COPY source ${src} is excluded by .dockerignore`);
    }
  }
  for (const needed of ['node_modules', 'dist', '.git', 'test', 'certs-example']) {
    assert.ok(ignored.some((p) => p === needed || p === `**/${needed}`), `.dockerignore should exclude ${needed}`);
  }
});

test('the runtime stage copies only the compiled CLI, production node_modules and package.json', () => {
  const copies = runtime.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map((i) => copyArgs(i.args));
  const allowed = new Set(['dist', 'node_modules', 'package.json']);
  for (const c of copies) {
    for (const src of c.sources) {
      const base = posix.basename(src.replace(/\/+$/, ''));
      assert.ok(allowed.has(base), `runtime stage copies ${src}: only ${[...allowed].join(', ')} belong there`);
      assert.doesNotMatch(src, /(^|\/)(test|certs-example|bench)(\/|$)/);
    }
  }
  const fromStages = new Set(copies.map((c) => c.from).filter((f): f is string => f !== undefined));
  assert.ok(fromStages.size >= 1, 'the runtime copies its content from earlier stages');
  assert.ok(
    !runtime.instructions.some((i) => i.keyword === 'RUN' && /\bnpm (ci|install|run)\b/.test(i.args)),
    'nothing is installed or built in the runtime stage',
  );
});

test('the runtime runs as a numeric non-root user with the CLI as entrypoint', () => {
  const users = runtime.instructions.filter((i) => i.keyword === 'USER');
  assert.ok(users.length > 0, 'the runtime stage sets USER');
  const user = users[users.length - 1]!.args;
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  assert.ok(m, `USER ${user} must be numeric (uid[:gid]) so runAsNonRoot can check it`);
  assert.notEqual(Number(m[1]), 0, 'USER must not be root');
  if (m[2] !== undefined) assert.notEqual(Number(m[2]), 0, 'group must not be root');

  const entry = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT').pop();
  assert.ok(entry, 'ENTRYPOINT');
  const argv = JSON.parse(entry.args) as string[];
  const binPath = pkg.bin['rolesanywhere-sidecar'];
  assert.ok(binPath !== undefined, 'package.json bin rolesanywhere-sidecar');
  const workdir = runtime.instructions.filter((i) => i.keyword === 'WORKDIR').pop()?.args;
  assert.deepEqual(argv, ['node', posix.join(workdir ?? '/', binPath)], 'exec-form ENTRYPOINT running the package bin');

  const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
  assert.match(env, /\bHOME=\/tmp\b/, 'HOME=/tmp: the user has no home and the root filesystem may be read-only');
});

test('EXPOSE lists the three default listener ports of serve', () => {
  const exposed = new Set(runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)));
  for (const flag of ['port', 'container-port', 'ops-port']) {
    const def = SERVE_FLAGS.find((f) => f.name === flag)?.default;
    assert.ok(def !== undefined && exposed.has(def), `EXPOSE ${def} (--${flag} default)`);
  }
});
