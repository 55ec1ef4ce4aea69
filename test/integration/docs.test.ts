/**
 * The documentation must stay true: the README's quick start runs and prints a
 * GetCallerIdentity ARN, every `rolesanywhere-sidecar <command> ...` line in a fenced code
 * block (and every sidecar container's `args:` list) uses commands and flags the CLI has,
 * every ROLESANYWHERE_* variable named is one the CLI reads, every error code shown exists,
 * and `--help` lists every flag of every command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { COMMANDS, envName, FLAGS, flagsFor, type CommandName } from '../../src/config/flags.js';
import { ErrorCodes } from '../../src/core/errors.js';
import { DEFAULT_PROFILE_ARN, DEFAULT_ROLE_ARN, DEFAULT_TRUST_ANCHOR_ARN } from '../../src/emulator/index.js';
import { cliEnv, REPO_ROOT, runCli } from '../helpers/harness.js';
import { runProgram } from '../helpers/e2e-exec-support.js';

/** Variables the CLI reads that are not a flag's ROLESANYWHERE_<FLAG>. */
const NON_FLAG_VARIABLES = new Set(['ROLESANYWHERE_CONTAINER_TOKEN']);

function walk(dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, keep, out);
    else if (keep(name)) out.push(p);
  }
  return out;
}

/** README.md, examples/**\/README*.md, helm/**\/README.md and certs-example/README.md. */
function docFiles(): string[] {
  const files = [
    join(REPO_ROOT, 'README.md'),
    ...walk(join(REPO_ROOT, 'examples'), (n) => /^README.*\.md$/.test(n)),
    ...walk(join(REPO_ROOT, 'helm'), (n) => n === 'README.md'),
    join(REPO_ROOT, 'certs-example', 'README.md'),
  ];
  return files.filter((f) => existsSync(f));
}

interface Block {
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly text: string;
}

function fencedBlocks(file: string): Block[] {
  const blocks: Block[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  let open: { line: number; lang: string; fence: string; body: string[] } | undefined;
  lines.forEach((l, i) => {
    const m = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(l);
    if (open === undefined) {
      if (m) open = { line: i + 1, lang: m[2] ?? '', fence: m[1]!, body: [] };
    } else if (m && m[1]!.startsWith(open.fence) && l.trim() === m[1]) {
      blocks.push({ file, line: open.line, lang: open.lang, text: open.body.join('\n') });
      open = undefined;
    } else open.body.push(l);
  });
  return blocks;
}

/** Shell text -> simple commands (token lists), following quotes, `\` continuations, comments and operators. */
function shellCommands(text: string): string[][] {
  const src = text.replace(/\\\r?\n/g, ' ');
  const commands: string[][] = [];
  let tokens: string[] = [];
  let cur: string | undefined;
  let skipNext = false;
  const endToken = () => {
    if (cur !== undefined) {
      if (skipNext) skipNext = false;
      else tokens.push(cur);
    }
    cur = undefined;
  };
  const endCommand = () => {
    endToken();
    if (tokens.length > 0) commands.push(tokens);
    tokens = [];
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      cur = (cur ?? '') + src.slice(i + 1, end === -1 ? undefined : end);
      i = end === -1 ? src.length : end;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        s += src[j];
        j++;
      }
      cur = (cur ?? '') + s;
      i = j;
    } else if (c === '\n' || c === ';' || c === '|' || c === '&') {
      endCommand();
    } else if (c === '>' || c === '<') {
      // A redirection: its target is not an argument.
      endToken();
      skipNext = true;
      if (src[i + 1] === '&') i++;
    } else if (/\s/.test(c)) {
      endToken();
    } else if (c === '#' && cur === undefined) {
      const nl = src.indexOf('\n', i);
      i = (nl === -1 ? src.length : nl) - 1;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  endCommand();
  return commands;
}

const WRAPPERS = new Set(['sudo', 'exec', 'time', 'nohup', 'env', 'npx', 'command']);
const INVOKE = /(^|\/)rolesanywhere-sidecar(\.js)?$/;
const IMAGE = /^([\w.:-]+\/)*rolesanywhere-sidecar(:[\w.-]+)?(@sha256:[0-9a-f]+)?$/;

/** The sidecar's own arguments when this simple command runs it, else undefined. */
function sidecarArgs(tokens: readonly string[]): string[] | undefined {
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (i === 0 && t === '$') i++;
    else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(t) && !INVOKE.test(t)) i++;
    else if (WRAPPERS.has(t)) i++;
    else if (basename(t) === 'node') {
      i++;
      while (tokens[i]?.startsWith('-')) i++;
    } else break;
  }
  const first = tokens[i];
  if (first !== undefined && INVOKE.test(first)) return tokens.slice(i + 1);
  // docker/podman run ... IMAGE [command args...]
  if ((tokens[0] === 'docker' || tokens[0] === 'podman') && tokens.includes('run')) {
    const at = tokens.findIndex((t, k) => k > tokens.indexOf('run') && IMAGE.test(t) && !tokens[k - 1]!.startsWith('--name'));
    if (at !== -1) return tokens.slice(at + 1);
  }
  return undefined;
}

/** YAML block-list `args:` of a container whose image is the sidecar (pod specs in the Helm README). */
function yamlSidecarArgs(text: string): string[][] {
  const lines = text.split('\n');
  const found: string[][] = [];
  lines.forEach((l, i) => {
    const m = /^(\s*)args:\s*$/.exec(l);
    if (!m) return;
    const context = lines.slice(Math.max(0, i - 8), i).join('\n');
    if (!/image:\s*["']?([\w.:-]+\/)*rolesanywhere-sidecar[:@"'\s]/.test(`${context}\n`)) return;
    const indent = m[1]!.length;
    const args: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const item = /^(\s*)- (.*)$/.exec(lines[j]!);
      if (!item || item[1]!.length < indent) break;
      args.push(
        item[2]!
          .trim()
          .replace(/^"(.*)"$/, '$1')
          .replace(/^'(.*)'$/, '$1'),
      );
    }
    found.push(args);
  });
  return found;
}

/** Problems with one invocation, checked against the flag table; [] when it would parse. */
function checkInvocation(args: readonly string[]): string[] {
  const problems: string[] = [];
  const [cmd, ...rest] = args;
  if (cmd === undefined) return ['no command given'];
  if (['--help', '-h', 'help', '--version', '-v'].includes(cmd)) return [];
  if (!(COMMANDS as readonly string[]).includes(cmd)) return [`unknown command "${cmd}"`];
  const command = cmd as CommandName;
  const specs = flagsFor(command);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      if (command !== 'exec') problems.push(`"--" is only for exec`);
      else if (i === rest.length - 1) problems.push('exec -- needs a command after it');
      break;
    }
    if (a === '--help' || a === '-h') continue;
    if (!a.startsWith('--')) {
      if (command === 'exec') break;
      problems.push(`unexpected argument "${a}" for ${command}`);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (spec === undefined) {
      problems.push(`--${name} is not a flag of ${command}`);
      // Its value, if it had one, is not a second problem.
      if (eq === -1 && rest[i + 1] !== undefined && !rest[i + 1]!.startsWith('-')) i++;
      continue;
    }
    if (spec.notSupported === true) problems.push(`--${name} is refused as not supported`);
    if (spec.type === 'boolean') continue;
    const value = eq !== -1 ? a.slice(eq + 1) : rest[++i];
    if (value === undefined || (value.startsWith('--') && value.length > 2)) problems.push(`--${name} needs a value`);
    else if (spec.type === 'number' && !value.includes('$') && !/^-?\d+$/.test(value)) problems.push(`--${name} needs a whole number, got "${value}"`);
  }
  return problems;
}

test('every rolesanywhere-sidecar command line in the docs uses commands and flags that exist', () => {
  const files = docFiles();
  assert.ok(files.length >= 4, `expected the README and the example docs, found ${files.map((f) => relative(REPO_ROOT, f)).join(', ')}`);
  const problems: string[] = [];
  const seen: string[] = [];
  for (const file of files) {
    for (const block of fencedBlocks(file)) {
      const where = `${relative(REPO_ROOT, file)}:${block.line}`;
      const invocations = [
        ...shellCommands(block.text)
          .map(sidecarArgs)
          .filter((a): a is string[] => a !== undefined),
        ...yamlSidecarArgs(block.text),
      ];
      for (const args of invocations) {
        seen.push(`${where} ${args[0] ?? ''}`);
        for (const p of checkInvocation(args)) problems.push(`${where} (block starting there): rolesanywhere-sidecar ${args.join(' ').slice(0, 120)}: ${p}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  // The parser found the examples (the GitLab exec line, the container's serve, the pod spec args).
  assert.ok(seen.length >= 3, `only found: ${seen.join('; ')}`);
});

test('the doc checker itself: it catches wrong commands and flags, and follows shell syntax', () => {
  const parse = (s: string) =>
    shellCommands(s)
      .map(sidecarArgs)
      .filter((a): a is string[] => a !== undefined);
  assert.deepEqual(parse('rolesanywhere-sidecar exec --certificate "$C" \\\n  --private-key k -- aws sts get-caller-identity # note'), [
    ['exec', '--certificate', '$C', '--private-key', 'k', '--', 'aws', 'sts', 'get-caller-identity'],
  ]);
  assert.deepEqual(
    parse(
      'sudo systemctl enable --now rolesanywhere-sidecar\njournalctl -u rolesanywhere-sidecar -f\nhelm install demo ./helm/rolesanywhere-sidecar --set a=b',
    ),
    [],
  );
  assert.deepEqual(parse('docker build -t rolesanywhere-sidecar:0.1.0 .\ndocker run --rm -e X=1 rolesanywhere-sidecar:0.1.0 version'), [['version']]);
  assert.deepEqual(parse('ExecStart=/usr/bin/node /opt/x/dist/cmd/rolesanywhere-sidecar.js serve --port 9911'), [['serve', '--port', '9911']]);
  assert.deepEqual(parse('rolesanywhere-sidecar emulator --port 8443 & echo hi'), [['emulator', '--port', '8443']]);
  assert.deepEqual(checkInvocation(['serve', '--port', '9911', '--no-imds']), []);
  assert.deepEqual(checkInvocation(['serve', '--prot', '1']), ['--prot is not a flag of serve']);
  assert.deepEqual(checkInvocation(['credential-process', '--once']), ['--once is not a flag of credential-process']);
  assert.deepEqual(checkInvocation(['serve', '--port', 'abc']), ['--port needs a whole number, got "abc"']);
  assert.deepEqual(checkInvocation(['servee']), ['unknown command "servee"']);
  assert.deepEqual(checkInvocation(['serve', '--hop-limit', '1']), ['--hop-limit is refused as not supported']);
  assert.deepEqual(checkInvocation(['serve', '--certificate']), ['--certificate needs a value']);
  assert.deepEqual(yamlSidecarArgs('image: "rolesanywhere-sidecar:0.1.0"\nargs:\n  - serve\n  - --port\n  - "9911"\nports: []'), [['serve', '--port', '9911']]);
});

test('every ROLESANYWHERE_* variable the docs name is one the CLI reads; every error code and emulator ARN shown exists', () => {
  const known = new Set([...FLAGS.filter((f) => f.notSupported !== true && f.noEnv !== true).map((f) => envName(f.name)), ...NON_FLAG_VARIABLES]);
  const problems: string[] = [];
  for (const file of docFiles()) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bROLESANYWHERE_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      if (!known.has(m[0])) problems.push(`${relative(REPO_ROOT, file)}: ${m[0]} is not read by the CLI`);
    }
    for (const block of fencedBlocks(file)) {
      for (const m of block.text.matchAll(/^rolesanywhere-sidecar: .*\[([A-Z0-9_]+)\]\s*$/gm)) {
        if (!(m[1]! in ErrorCodes)) problems.push(`${relative(REPO_ROOT, file)}:${block.line}: error code ${m[1]} does not exist`);
      }
      // The emulator's fixed world: an ARN of its account in a doc must be one it actually serves.
      for (const m of block.text.matchAll(/arn:aws:(?:rolesanywhere:[a-z0-9-]+|iam:):123456789012:[\w/+=,.@-]+/g)) {
        if (![DEFAULT_TRUST_ANCHOR_ARN, DEFAULT_PROFILE_ARN, DEFAULT_ROLE_ARN].includes(m[0])) {
          problems.push(`${relative(REPO_ROOT, file)}:${block.line}: ${m[0]} is not one of the emulator's ARNs`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("the README's command table and exit statuses match the CLI", () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const tabled = [...readme.matchAll(/^\| `([a-z][a-z-]*)[^`]*` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...tabled].sort(), [...COMMANDS].sort(), 'the README command table and the CLI commands differ');
  const category = /by category: ([^.]+)\./.exec(readme.replace(/\s+/g, ' '));
  assert.ok(category !== null, 'the README no longer lists exit statuses by category');
  const documented = [...category[1]!.matchAll(/\b(\d+) [a-z]/g)].map((m) => Number(m[1]));
  const actual = [...new Set(Object.values(ErrorCodes).map((c) => c.exit))].filter((e) => e !== 1).sort();
  assert.deepEqual([...documented].sort(), actual);
});

test('--help of every command exits 0 and lists every supported flag (and names the refused ones)', async () => {
  const top = await runCli(['--help'], { env: cliEnv() });
  assert.equal(top.code, 0, top.stderr);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'), `top-level --help misses ${c}`);
  const results = await Promise.all(COMMANDS.map(async (c) => [c, await runCli([c, '--help'], { env: cliEnv() })] as const));
  for (const [command, r] of results) {
    assert.equal(r.code, 0, `${command} --help: ${r.stderr}`);
    assert.equal(r.stderr, '');
    for (const f of flagsFor(command)) {
      if (f.notSupported === true) {
        assert.match(r.stdout, new RegExp(`Not supported yet.*--${f.name}\\b`), `${command} --help does not name the refused --${f.name}`);
      } else {
        assert.match(r.stdout, new RegExp(`^  --${f.name}(\\s|$)`, 'm'), `${command} --help does not list --${f.name}`);
        if (f.noEnv !== true) assert.ok(r.stdout.includes(`env: ${envName(f.name)}`), `${command} --help does not give ${envName(f.name)}`);
      }
    }
  }
});

test('quick start: `npm run demo` runs the emulator and the sidecar with certs-example/ and prints a GetCallerIdentity ARN', async () => {
  const missing = ['root-ca.pem', 'intermediate-ca.pem', 'leaf-rsa.pem', 'leaf-rsa.key'].filter((f) => !existsSync(join(REPO_ROOT, 'certs-example', f)));
  assert.deepEqual(missing, [], 'certs-example/ is incomplete: run `npm run certs-example`');
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.demo ?? '', /dist\/cmd\/rolesanywhere-sidecar\.js demo --once$/);
  // Exactly the README's command: npm itself, as a newcomer runs it.
  const r = await runProgram('npm', ['run', 'demo'], { env: cliEnv(), cwd: REPO_ROOT, timeoutMs: 90_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^STS GetCallerIdentity with the served credentials: arn:aws:sts::123456789012:assumed-role\/rolesanywhere-demo\/[\w+=,.@-]+$/m);
  assert.match(r.stdout, /^IMDSv2: AccessKeyId \S+, expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
  assert.match(r.stdout, /^Container endpoint: AccessKeyId \S+, expires /m);
  assert.match(r.stdout, /^OK$/m);
  // The token file it printed is gone once the demo has stopped.
  const tokenFile = /AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=(\S+)/.exec(r.stdout)?.[1];
  if (tokenFile !== undefined) assert.equal(existsSync(dirname(tokenFile)), false, `${tokenFile} was left behind`);
});
