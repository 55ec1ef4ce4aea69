/**
 * The systemd example: `systemd-analyze verify` accepts the unit with no warning about its
 * own lines, its sandbox scores "OK" in `systemd-analyze security`, it passes `serve` only
 * known flags, and the env files use only variables the CLI and the SDKs read, with ports
 * matching the unit. The systemd-analyze parts skip when it is not installed (CI installs
 * the `systemd` package).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkArgs, findInvocations, knownEnvNames, repoPath, SERVE_FLAGS } from './cli-flags.js';
import { unavailable } from '../helpers/tools.js';

const UNIT_NAME = 'rolesanywhere-sidecar.service';
const unitText = readFileSync(repoPath('examples', 'systemd', UNIT_NAME), 'utf8');
/** Where the Debian package (packaging/deb.ts) puts the single executable. */
const INSTALLED_BIN = '/usr/bin/rolesanywhere-sidecar';

/** [Section] -> key -> values (in order; keys may repeat), continuation lines joined. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  const logical = text.replace(/\\\r?\n(\s*[#;].*\r?\n)*/g, ' ').split(/\r?\n/);
  for (const raw of logical) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current !== undefined && eq > 0, `not a key=value line in a section: ${line}`);
    const key = line.slice(0, eq).trim();
    const list = current.get(key) ?? [];
    list.push(line.slice(eq + 1).trim());
    current.set(key, list);
  }
  return sections;
}

const unit = parseUnit(unitText);
const service = unit.get('Service')!;
const one = (key: string): string | undefined => service.get(key)?.at(-1);

function systemdAnalyze(): { ok: boolean; help: string } {
  const r = spawnSync('systemd-analyze', ['--help'], { encoding: 'utf8' });
  return { ok: r.error === undefined && r.status === 0, help: `${r.stdout ?? ''}` };
}

/** The unit, copied to a temp dir with ExecStart pointing at an executable that exists here. */
function stageUnit(dir: string, text = unitText): string {
  // verify only needs ExecStart's file to exist and be executable; the package tests
  // verify the unit as installed from the .deb.
  const bin = join(dir, 'rolesanywhere-sidecar');
  writeFileSync(bin, '#!/bin/sh\n');
  chmodSync(bin, 0o755);
  const path = join(dir, UNIT_NAME);
  writeFileSync(path, text.replaceAll(INSTALLED_BIN, bin));
  return path;
}

function verify(path: string, help: string): { status: number | null; stderr: string } {
  const args = ['verify', '--man=no'];
  // Only this unit's problems, not those of units it pulls in from the host (systemd >= 250).
  if (help.includes('--recursive-errors')) args.push('--recursive-errors=no');
  const r = spawnSync('systemd-analyze', [...args, path], {
    encoding: 'utf8',
    cwd: join(path, '..'),
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice', SYSTEMD_LOG_COLOR: '0' },
    timeout: 30_000,
  });
  return { status: r.status, stderr: `${r.stderr ?? ''}${r.stdout ?? ''}` };
}

const ownLines = (out: string): string[] => out.split('\n').filter((l) => l.includes(UNIT_NAME));

test('systemd-analyze verify accepts the unit without warnings about it', (t) => {
  const sa = systemdAnalyze();
  if (!sa.ok) return unavailable(t, 'systemd-analyze is not installed (apt-get install systemd)');
  const dir = mkdtempSync(join(tmpdir(), 'ra-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = verify(stageUnit(dir), sa.help);
  assert.deepEqual(ownLines(r.stderr), [], r.stderr);
  assert.equal(r.status, 0, r.stderr);
});

test('the verify harness does report a broken copy of the unit', (t) => {
  const sa = systemdAnalyze();
  if (!sa.ok) return unavailable(t, 'systemd-analyze is not installed (apt-get install systemd)');
  const dir = mkdtempSync(join(tmpdir(), 'ra-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const broken = unitText.replace('[Service]\n', '[Service]\nProtectSystm=strict\nRestartSec=soon\n');
  const lines = ownLines(verify(stageUnit(dir, broken), sa.help).stderr);
  assert.ok(
    lines.some((l) => /ProtectSystm/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /soon/.test(l)),
    lines.join('\n'),
  );
});

test('systemd-analyze security rates the sandbox OK (exposure at most 2.0)', (t) => {
  const sa = systemdAnalyze();
  if (!sa.ok) return unavailable(t, 'systemd-analyze is not installed (apt-get install systemd)');
  if (!sa.help.includes('--offline')) return unavailable(t, 'this systemd-analyze cannot analyze a unit file offline (systemd < 250)');
  const dir = mkdtempSync(join(tmpdir(), 'ra-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = stageUnit(dir);
  chmodSync(path, 0o644);
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', '--no-pager', path], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice', SYSTEMD_COLORS: '0' },
    timeout: 30_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /Overall exposure level for .*: [0-2]\.\d/);
});

test('the unit is hardened as documented', () => {
  const expected: Record<string, string> = {
    Type: 'exec',
    DynamicUser: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    NoNewPrivileges: 'yes',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectKernelLogs: 'yes',
    ProtectControlGroups: 'yes',
    RestrictNamespaces: 'yes',
    LockPersonality: 'yes',
    CapabilityBoundingSet: '',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
    // V8's JIT needs writable+executable memory: W^X would abort node.
    MemoryDenyWriteExecute: 'no',
    RuntimeDirectory: 'rolesanywhere-sidecar',
    Restart: 'on-failure',
    RestartSec: '5',
    TimeoutStopSec: '20',
    KillSignal: 'SIGTERM',
    EnvironmentFile: '-/etc/rolesanywhere-sidecar/sidecar.env',
  };
  for (const [k, v] of Object.entries(expected)) assert.equal(one(k), v, `${k}=${v}`);
  assert.ok(service.get('SystemCallFilter')?.includes('@system-service'));
  assert.match(unitText, /V8|JIT/, 'MemoryDenyWriteExecute=no is explained');
  assert.deepEqual(service.get('LoadCredential')?.sort(), [
    'certificate:/etc/rolesanywhere-sidecar/workload.crt',
    'private-key:/etc/rolesanywhere-sidecar/workload.key',
  ]);
});

test('ExecStart runs serve with known flags, the loaded credentials and the runtime directory', () => {
  const exec = one('ExecStart')!;
  const words = exec.split(/\s+/);
  assert.equal(words[0], INSTALLED_BIN);
  assert.equal(words[1], 'serve');
  const args = words.slice(2);
  assert.deepEqual(checkArgs(args, SERVE_FLAGS), []);
  const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
  assert.equal(value('--certificate'), '${CREDENTIALS_DIRECTORY}/certificate');
  assert.equal(value('--private-key'), '${CREDENTIALS_DIRECTORY}/private-key');
  assert.equal(value('--container-token-file'), `%t/${one('RuntimeDirectory')}/token`);
  for (const f of ['--address', '--container-address', '--ops-address']) assert.equal(value(f), '127.0.0.1', `${f} stays on loopback`);
  assert.ok(!args.includes('--allow-non-loopback'));
  // The same check through the generic scanner the docs tests use.
  const inv = findInvocations(unitText);
  assert.equal(inv.length, 1);
  assert.deepEqual(checkArgs(inv[0]!.args, SERVE_FLAGS), []);
});

/** KEY=value lines of an env file, including commented-out ones when `commented`. */
function envFile(name: string, commented = false): Map<string, string> {
  const text = readFileSync(repoPath('examples', 'systemd', name), 'utf8');
  const re = commented ? /^#?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/ : /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = re.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

test('sidecar.env sets only ROLESANYWHERE_* variables the CLI knows (and proxy settings)', () => {
  const known = knownEnvNames();
  const env = envFile('sidecar.env', true);
  for (const needed of ['ROLESANYWHERE_TRUST_ANCHOR_ARN', 'ROLESANYWHERE_PROFILE_ARN', 'ROLESANYWHERE_ROLE_ARN']) {
    assert.ok(envFile('sidecar.env').has(needed), needed);
  }
  for (const k of env.keys()) {
    assert.ok(known.has(k) || ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'].includes(k), `${k} is not read by the CLI`);
  }
});

test('client.env points SDKs at the ports the unit serves', () => {
  const exec = one('ExecStart')!.split(/\s+/);
  const flag = (name: string, dflt: string): string => (exec.includes(name) ? exec[exec.indexOf(name) + 1]! : dflt);
  const env = envFile('client.env');
  assert.equal(env.get('AWS_EC2_METADATA_SERVICE_ENDPOINT'), `http://127.0.0.1:${flag('--port', '9911')}/`);
  assert.match(env.get('NO_PROXY') ?? '', /127\.0\.0\.1/);
  assert.match(env.get('no_proxy') ?? '', /localhost/);
  assert.ok(!env.has('AWS_EC2_METADATA_DISABLED'), 'JS v2 treats any value as disabled');
  const commented = envFile('client.env', true);
  assert.equal(
    commented.get('AWS_CONTAINER_CREDENTIALS_FULL_URI'),
    `http://127.0.0.1:${flag('--container-port', '9912')}${flag('--container-path', '/credentials')}`,
  );
});
