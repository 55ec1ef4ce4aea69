/**
 * `npm run package`: the release artifacts in dist/release/ (see README.md, "Install"):
 *   rolesanywhere-sidecar                         the single executable (Linux, this machine's arch)
 *   rolesanywhere-sidecar_<version>_<arch>.deb     the Debian package of it
 *   rolesanywhere-sidecar-<version>.tgz            the npm package
 * and dist/bundle/ (the one-file CLI and its THIRD-PARTY-NOTICES), which the single
 * executable and the Dockerfile run. `package.js bundle` builds only dist/bundle/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli } from './bundle.js';
import { formatNotices, readNotice } from './notices.js';
import { buildSea } from './sea.js';

export const BUNDLE_DIR = 'dist/bundle';
export const BUNDLE_FILE = 'rolesanywhere-sidecar.cjs';
export const RELEASE_DIR = 'dist/release';
export const EXECUTABLE = 'rolesanywhere-sidecar';

async function main(argv: readonly string[]): Promise<void> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const only = argv[0];
  if (only !== undefined && only !== 'bundle') throw new Error(`usage: package.js [bundle]`);
  const bundleDir = join(root, BUNDLE_DIR);
  await rm(bundleDir, { recursive: true, force: true });
  await mkdir(bundleDir, { recursive: true });
  const bundle = await bundleCli(root, join(bundleDir, BUNDLE_FILE));
  const notices = await Promise.all(bundle.packageDirs.map((d) => readNotice(root, d)));
  await writeFile(join(bundleDir, 'THIRD-PARTY-NOTICES'), formatNotices(notices));
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
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
