/**
 * The single executable: the bundle's SEA preparation blob (`node --experimental-sea-config`)
 * injected with postject into a copy of the node binary that runs this build, as described
 * in https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html.
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inject } from 'postject';

/** The fuse every SEA-capable node binary carries (the Node.js documentation names it). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface SeaOptions {
  readonly bundle: string;
  readonly output: string;
  /** Scratch directory for the SEA config and blob. */
  readonly workDir: string;
  /** The node binary to copy and to prepare the blob with (the code cache is tied to it). */
  readonly node: string;
  readonly useCodeCache: boolean;
}

/** The SEA configuration file's content (pure). */
export function seaConfig(main: string, blob: string, useCodeCache: boolean): string {
  // The warning would be printed on every run, into credential-process's standard error.
  return `${JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache }, null, 2)}\n`;
}

export async function buildSea(o: SeaOptions): Promise<void> {
  const configPath = join(o.workDir, 'sea-config.json');
  const blobPath = join(o.workDir, 'sea-prep.blob');
  await writeFile(configPath, seaConfig(o.bundle, blobPath, o.useCodeCache));
  const prep = spawnSync(o.node, ['--experimental-sea-config', configPath], { encoding: 'utf8', cwd: o.workDir });
  if (prep.status !== 0) throw new Error(`node --experimental-sea-config failed (${prep.status}): ${prep.stderr}`);
  await rm(o.output, { force: true });
  await copyFile(o.node, o.output);
  await chmod(o.output, 0o755);
  await inject(o.output, 'NODE_SEA_BLOB', await readFile(blobPath), { sentinelFuse: SEA_FUSE });
}
