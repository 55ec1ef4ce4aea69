/**
 * The license notices of the packages bundled into the single executable and the image
 * (their licenses, MIT, BSD, ISC and Apache-2.0, require the notice to travel with the code).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PackageNotice {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  readonly text: string | undefined;
}

/** The notices file's text (pure). */
export function formatNotices(notices: readonly PackageNotice[]): string {
  const parts = notices.map(
    (n) =>
      `${'='.repeat(78)}\n${n.name}@${n.version} (${n.license})\n${'='.repeat(78)}\n${(n.text ?? `License: ${n.license} (the package ships no license file)`).trimEnd()}\n`,
  );
  return `rolesanywhere-sidecar bundles the following packages.\n\n${parts.join('\n')}`;
}

export async function readNotice(root: string, dir: string): Promise<PackageNotice> {
  const pkg = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: unknown };
  const file = (await readdir(join(root, dir))).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  return {
    name: pkg.name,
    version: pkg.version,
    license: typeof pkg.license === 'string' ? pkg.license : 'see the package',
    text: file === undefined ? undefined : await readFile(join(root, dir, file), 'utf8'),
  };
}
