/**
 * The Debian package of the single executable, built with `dpkg-deb --root-owner-group`
 * (no debhelper source tree: the package has one binary, one unit and one conffile).
 * Layout (README.md, "Install"):
 *   /usr/bin/rolesanywhere-sidecar                         the single executable
 *   /lib/systemd/system/rolesanywhere-sidecar.service      examples/systemd's unit, as is
 *   /etc/rolesanywhere-sidecar/sidecar.env, client.env     conffiles (DEBIAN/conffiles)
 *   /usr/share/doc/rolesanywhere-sidecar/                  copyright, the unit's README
 *   /usr/lib/rolesanywhere-sidecar/node_modules/pkcs11js/  the PKCS#11 native addon (the
 *                                                          executable cannot hold it), when built
 * The unit runs as a DynamicUser, so no account is created. The maintainer scripts
 * (packaging/debian/) follow what dh_installsystemd generates with --no-enable --no-start:
 * https://manpages.debian.org/bookworm/debhelper/dh_installsystemd.1.en.html
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export const DEB_PACKAGE = 'rolesanywhere-sidecar';
export const CONFFILES = ['/etc/rolesanywhere-sidecar/sidecar.env', '/etc/rolesanywhere-sidecar/client.env'] as const;
// Required by deb-control(5); `.invalid` (RFC 2606) because the project has no list address.
const MAINTAINER = 'rolesanywhere-sidecar maintainers <maintainers@rolesanywhere-sidecar.invalid>';

/**
 * npm (semver) version -> Debian version of a native package (no revision): a pre-release
 * sorts before its release with `~`; further hyphens become dots, because dpkg would read
 * the last hyphen as the start of a Debian revision (deb-version(7)); build metadata
 * (`+...`) does not order versions in semver and is dropped.
 */
export function debVersion(npmVersion: string): string {
  const m = /^(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(npmVersion);
  if (!m) throw new Error(`not a semver version: ${npmVersion}`);
  return m[2] === undefined ? m[1]! : `${m[1]!}~${m[2].replaceAll('-', '.')}`;
}

/** Node's process.arch -> the Debian architecture name. */
export function debArch(nodeArch: string): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[nodeArch];
  if (arch === undefined) throw new Error(`no Debian architecture for node's ${nodeArch}`);
  return arch;
}

export interface ControlFields {
  readonly version: string;
  readonly arch: string;
  readonly depends: string;
  readonly installedSizeKiB: number;
  readonly description: string;
}

/** DEBIAN/control (deb-control(5)); pure. */
export function debControl(f: ControlFields): string {
  const long = [
    'Signs IAM Roles Anywhere CreateSession with an X.509 workload certificate and serves',
    'the temporary credentials where unmodified AWS SDKs look: an EC2 IMDSv2-compatible',
    'endpoint, an ECS container-credentials endpoint, credential_process, a credentials',
    'file, a child environment. Includes a local Roles Anywhere emulator.',
    'The systemd unit is installed but neither enabled nor started.',
  ];
  return [
    `Package: ${DEB_PACKAGE}`,
    `Version: ${f.version}`,
    `Architecture: ${f.arch}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${f.installedSizeKiB}`,
    `Depends: ${f.depends}`,
    'Section: admin',
    'Priority: optional',
    `Description: ${f.description}`,
    ...long.map((l) => ` ${l}`),
    '',
  ].join('\n');
}

/** `shlibs:Depends=...` from dpkg-shlibdeps' output -> the Depends value. */
export function parseShlibdeps(out: string): string {
  const m = /^shlibs:Depends=(.+)$/m.exec(out);
  if (!m) throw new Error(`dpkg-shlibdeps printed no shlibs:Depends: ${out}`);
  return m[1]!.trim();
}

function run(cmd: string, args: readonly string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(cwd !== undefined ? { cwd } : {}) });
  if (r.error !== undefined) throw new Error(`${cmd}: ${r.error.message} (install dpkg-dev)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The shared libraries the executable links, as Debian dependencies (dpkg-shlibdeps). */
async function shlibDepends(executables: readonly string[], work: string): Promise<string> {
  // dpkg-shlibdeps wants a source package's debian/control naming the binary package.
  const dir = join(work, 'shlibdeps');
  await mkdir(join(dir, 'debian'), { recursive: true });
  await writeFile(join(dir, 'debian', 'control'), `Source: ${DEB_PACKAGE}\n\nPackage: ${DEB_PACKAGE}\nArchitecture: any\n`);
  return parseShlibdeps(run('dpkg-shlibdeps', ['-O', ...executables.map((e) => `-e${e}`)], dir));
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

export interface DebInputs {
  readonly root: string;
  readonly executable: string;
  readonly notices: string;
  readonly npmVersion: string;
  readonly nodeArch: string;
  readonly outDir: string;
  readonly workDir: string;
}

export async function buildDeb(i: DebInputs): Promise<string> {
  const version = debVersion(i.npmVersion);
  const arch = debArch(i.nodeArch);
  const stage = join(i.workDir, 'deb');
  const put = async (from: string, to: string, mode: number) => {
    await mkdir(join(stage, to, '..'), { recursive: true, mode: 0o755 });
    await copyFile(from, join(stage, to));
    await chmod(join(stage, to), mode);
  };
  const systemd = join(i.root, 'examples', 'systemd');
  await put(i.executable, 'usr/bin/rolesanywhere-sidecar', 0o755);
  await put(join(systemd, 'rolesanywhere-sidecar.service'), 'lib/systemd/system/rolesanywhere-sidecar.service', 0o644);
  // sidecar.env may come to hold a container token: root only, as systemd reads it as root.
  await put(join(systemd, 'sidecar.env'), 'etc/rolesanywhere-sidecar/sidecar.env', 0o600);
  await put(join(systemd, 'client.env'), 'etc/rolesanywhere-sidecar/client.env', 0o644);
  await put(join(systemd, 'README.md'), 'usr/share/doc/rolesanywhere-sidecar/README.systemd.md', 0o644);
  const copyright = [
    'rolesanywhere-sidecar is licensed under the Apache License, Version 2.0:',
    'see /usr/share/common-licenses/Apache-2.0.',
    '',
    'The executable contains Node.js (https://github.com/nodejs/node/blob/main/LICENSE) and',
    'the following JavaScript packages.',
    '',
    await readFile(i.notices, 'utf8'),
  ].join('\n');
  await writeFile(join(stage, 'usr/share/doc/rolesanywhere-sidecar/copyright'), copyright, { mode: 0o644 });
  // pkcs11js, built by npm ci for the Node.js the executable embeds (same ABI): what its
  // index.js loads, and its licence. Without it PKCS#11 keys fail with PKCS11_LIBRARY.
  const addon = join(i.root, 'node_modules', 'pkcs11js');
  const addonFiles = ['package.json', 'index.js', 'LICENSE', 'build/Release/pkcs11.node'];
  const shipAddon = addonFiles.every((f) => existsSync(join(addon, f)));
  if (shipAddon) {
    for (const f of addonFiles) {
      await put(join(addon, f), `usr/lib/rolesanywhere-sidecar/node_modules/pkcs11js/${f}`, f.endsWith('.node') ? 0o755 : 0o644);
    }
  }

  const payload = await files(stage);
  let bytes = 0;
  const sums: string[] = [];
  for (const f of payload.sort()) {
    const data = await readFile(f);
    bytes += (await stat(f)).size;
    sums.push(`${createHash('md5').update(data).digest('hex')}  ${relative(stage, f)}`);
  }
  const debian = join(stage, 'DEBIAN');
  await mkdir(debian, { mode: 0o755 });
  const depends = await shlibDepends(
    [i.executable, ...(shipAddon ? [join(stage, 'usr/lib/rolesanywhere-sidecar/node_modules/pkcs11js/build/Release/pkcs11.node')] : [])],
    i.workDir,
  );
  await writeFile(
    join(debian, 'control'),
    debControl({
      version,
      arch,
      depends,
      installedSizeKiB: Math.ceil(bytes / 1024),
      description: 'IAM Roles Anywhere credential sidecar for workloads outside AWS',
    }),
    { mode: 0o644 },
  );
  await writeFile(join(debian, 'conffiles'), `${CONFFILES.join('\n')}\n`, { mode: 0o644 });
  await writeFile(join(debian, 'md5sums'), `${sums.join('\n')}\n`, { mode: 0o644 });
  for (const script of ['postinst', 'prerm', 'postrm']) {
    await copyFile(join(i.root, 'packaging', 'debian', script), join(debian, script));
    await chmod(join(debian, script), 0o755);
  }
  const out = join(i.outDir, `${DEB_PACKAGE}_${version}_${arch}.deb`);
  // gzip: every dpkg reads it, and on a 2-core machine it packs the ~100 MB executable in
  // 3.5 s of CPU into 35 MB, against 58 s into 24 MB with dpkg-deb's default xz -6.
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', stage, out]);
  return out;
}
