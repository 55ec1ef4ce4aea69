import { fileURLToPath } from 'node:url';

/** The package root (dist/src/cli -> ../../..), where certs-example/ lives. */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}
