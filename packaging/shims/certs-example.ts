/**
 * Replaces src/cli/certs-example.ts in the single-executable bundle: the certs-example/
 * files are embedded at bundle time (packaging/bundle.ts defines them), so `demo` and the
 * emulator's default trust anchor work with no package directory.
 */
import type { CertsExampleFile } from '../../src/cli/certs-example.js';

declare const ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE: Readonly<Record<CertsExampleFile, string>>;

export const CERTS_EXAMPLE_FILES = Object.keys(ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE) as readonly CertsExampleFile[];

export async function readCertsExample(name: CertsExampleFile): Promise<Buffer> {
  return Buffer.from(ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE[name], 'utf8');
}
