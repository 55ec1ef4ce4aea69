/**
 * `npm run package`: the release artifacts in dist/release/ (see README.md, "Install"):
 *   rolesanywhere-sidecar                         the single executable (Linux, this machine's arch)
 *   rolesanywhere-sidecar_<version>_<arch>.deb     the Debian package of it
 *   rolesanywhere-sidecar-<version>.tgz            the npm package
 * and dist/bundle/ (the one-file CLI and its THIRD-PARTY-NOTICES), which the single
 * executable and the Dockerfile run. `package.js bundle [--without-certs-example]` builds
 * only dist/bundle/ (the container image's, without the demo keys).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli } from './bundle.js';
import { buildDeb } from './deb.js';
import { BUNDLE_DIR, BUNDLE_FILE, EXECUTABLE, NOTICES_FILE, RELEASE_DIR } from './layout.js';
import { formatNotices, readNotice } from './notices.js';
import { buildSea } from './sea.js';

/**
 * `npm pack` into `dest`, with the npm that runs this script (npm_execpath) when there is
 * one. --ignore-scripts: `npm run package` compiled already, `prepare` would again.
 */
function npmPack(root: string, dest: string): string {
  const npm = process.env.npm_execpath;
  const [cmd, pre] = npm !== undefined && npm.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
  const r = spawnSync(cmd, [...pre, 'pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status ?? r.error?.message}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as Array<{ filename: string }>)[0]!.filename;
}

async function main(argv: readonly string[]): Promise<void> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const only = argv[0];
  const withoutCerts = argv[1] === '--without-certs-example';
  if ((only !== undefined && only !== 'bundle') || argv.length > (withoutCerts ? 2 : 1))
    throw new Error('usage: package.js [bundle [--without-certs-example]]');
  const bundleDir = join(root, BUNDLE_DIR);
  await rm(bundleDir, { recursive: true, force: true });
  await mkdir(bundleDir, { recursive: true });
  const bundle = await bundleCli(root, join(bundleDir, BUNDLE_FILE), { certsExample: !withoutCerts });
  const notices = await Promise.all(bundle.packageDirs.map((d) => readNotice(root, d)));
  await writeFile(join(bundleDir, NOTICES_FILE), formatNotices(notices));
  console.log(`${BUNDLE_DIR}/${BUNDLE_FILE}: ${(bundle.bytes / 1024).toFixed(0)} KiB, ${bundle.packages.length} packages`);
  if (only === 'bundle') return;

  const release = join(root, RELEASE_DIR);
  await rm(release, { recursive: true, force: true });
  await mkdir(release, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'rolesanywhere-package-'));
  try {
    const executable = join(release, EXECUTABLE);
    // The code cache makes the executable start faster than the plain bundle (measured in
    // docs/packaging.md); it is tied to this node binary, which is the one copied.
    await buildSea({ bundle: bundle.file, output: executable, workDir: work, node: process.execPath, useCodeCache: true });
    console.log(`${RELEASE_DIR}/${EXECUTABLE}: Node.js ${process.version} single executable`);
    const deb = await buildDeb({
      root,
      executable,
      notices: join(bundleDir, NOTICES_FILE),
      npmVersion: bundle.version,
      nodeArch: process.arch,
      outDir: release,
      workDir: work,
    });
    console.log(`${RELEASE_DIR}/${basename(deb)}`);
    console.log(`${RELEASE_DIR}/${npmPack(root, release)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
