/**
 * Replaces src/cli/certs-example.ts in the bundle: the certs-example/ files are embedded at
 * bundle time (packaging/bundle.ts defines them), so `demo` and the emulator's default
 * trust anchor work with no package directory. The container image's bundle is built
 * without them (demo keys stay out of images) and says so.
 */
import type { CertsExampleFile } from '../../src/cli/certs-example.js';
import { SidecarError } from '../../src/core/errors.js';

declare const ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE: Readonly<Record<CertsExampleFile, string>>;

export const CERTS_EXAMPLE_FILES = Object.keys(ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE) as readonly CertsExampleFile[];

export function readCertsExample(name: CertsExampleFile): Promise<Buffer> {
  const text = ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE[name] as string | undefined;
  if (text === undefined) {
    return Promise.reject(
      new SidecarError(
        'FILE_UNREADABLE',
        `this build carries no certs-example/ (container images leave the demo keys out), so there is no certs-example/${name}: give the emulator --trust-anchor-ca, or run demo from the npm package or the single executable`,
      ),
    );
  }
  return Promise.resolve(Buffer.from(text, 'utf8'));
}
