/** Where `npm run package` puts what it builds (relative to the repository root). */
export const BUNDLE_DIR = 'dist/bundle';
export const BUNDLE_FILE = 'rolesanywhere-sidecar.cjs';
export const NOTICES_FILE = 'THIRD-PARTY-NOTICES';
export const RELEASE_DIR = 'dist/release';
export const EXECUTABLE = 'rolesanywhere-sidecar';
