/**
 * Checks of the Dockerfile without a container engine (none runs here): the image is
 * multi-stage, built with `npm ci` from the lock file, ships only the one-file bundle that
 * `npm run package` also builds, runs as a numeric non-root user, and its base image is
 * pinnable by digest without the file carrying a digest nobody verified. The build stage's
 * commands are run for real on a copy of what its COPY lines bring in (with the
 * repository's node_modules standing in for its `npm ci`), and the bundle they produce is
 * run the way the ENTRYPOINT runs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { BUNDLE_DIR, BUNDLE_FILE } from '../../packaging/layout.js';
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

test('dependencies from the lock file with npm ci; the bundle built as npm run package builds it', () => {
  const runs = allStages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
  assert.ok(
    runs.some((r) => /\bnpm ci\b/.test(r)),
    'npm ci',
  );
  assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'npm install resolves outside the lock file: use npm ci');
  assert.ok(
    runs.some((r) => /\bnpm run build\b|\btsc -p /.test(r)),
    'a TypeScript build step',
  );
  assert.ok(
    runs.some((r) => /node dist\/packaging\/package\.js bundle --without-certs-example\b/.test(r)),
    'the bundle from packaging/, without the demo keys',
  );
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
    assert.ok(
      ignored.some((p) => p === needed || p === `**/${needed}`),
      `.dockerignore should exclude ${needed}`,
    );
  }
});

test('the runtime stage copies only the bundle (and its notices) from the build stage', () => {
  const copies = runtime.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map((i) => copyArgs(i.args));
  assert.ok(copies.length > 0);
  for (const c of copies) {
    assert.ok(c.from !== undefined, `runtime stage copies ${c.sources.join(' ')} from the build context`);
    for (const src of c.sources) assert.equal(src.replace(/\/+$/, ''), posix.join('/src', BUNDLE_DIR), `runtime stage copies ${src}`);
  }
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
  const workdir = runtime.instructions.filter((i) => i.keyword === 'WORKDIR').pop()?.args;
  assert.deepEqual(argv, ['node', posix.join(workdir ?? '/', BUNDLE_FILE)], 'exec-form ENTRYPOINT running the bundle');

  const env = runtime.instructions
    .filter((i) => i.keyword === 'ENV')
    .map((i) => i.args)
    .join(' ');
  assert.match(env, /\bHOME=\/tmp\b/, 'HOME=/tmp: the user has no home and the root filesystem may be read-only');
});

test('EXPOSE lists the three default listener ports of serve', () => {
  const exposed = new Set(runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)));
  for (const flag of ['port', 'container-port', 'ops-port']) {
    const def = SERVE_FLAGS.find((f) => f.name === flag)?.default;
    assert.ok(def !== undefined && exposed.has(def), `EXPOSE ${def} (--${flag} default)`);
  }
});

test("the build stage's commands build a bundle that runs as the ENTRYPOINT runs it", () => {
  const build = allStages.find((st) => st.instructions.some((i) => i.keyword === 'RUN' && /package\.js bundle/.test(i.args)))!;
  const dir = mkdtempSync(join(tmpdir(), 'ra-docker-build-'));
  try {
    for (const ins of build.instructions) {
      if (ins.keyword === 'COPY') {
        const c = copyArgs(ins.args);
        for (const src of c.sources)
          cpSync(repoPath(src), join(dir, c.dest.endsWith('/') || c.sources.length > 1 ? posix.join(c.dest, posix.basename(src)) : c.dest), {
            recursive: true,
          });
      } else if (ins.keyword === 'RUN' && /\bnpm ci\b/.test(ins.args)) {
        // What npm ci would install from the same lock file.
        symlinkSync(repoPath('node_modules'), join(dir, 'node_modules'));
      } else if (ins.keyword === 'RUN') {
        const r = spawnSync('sh', ['-c', ins.args], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
        assert.equal(r.status, 0, `RUN ${ins.args}\n${r.stdout}\n${r.stderr}`);
      }
    }
    const bundle = join(dir, BUNDLE_DIR, BUNDLE_FILE);
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [bundle, ...args], {
        encoding: 'utf8',
        cwd: tmpdir(),
        env: { PATH: process.env.PATH ?? '', HOME: '/tmp', NODE_ENV: 'production' },
        timeout: 60_000,
      });
    const version = run('version');
    assert.equal(version.stdout, `${(JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string }).version}\n`, version.stderr);
    assert.equal(run('serve', '--help').status, 0);
    // No demo keys in the image: the emulator asks for a trust anchor instead.
    const emu = run('emulator', '--port', '0');
    assert.equal(emu.status, 3, emu.stderr);
    assert.match(emu.stderr, /carries no certs-example\/.*--trust-anchor-ca.*\[FILE_UNREADABLE\]/);
    assert.ok(existsSync(join(dir, BUNDLE_DIR, 'THIRD-PARTY-NOTICES')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
