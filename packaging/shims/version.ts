/**
 * Replaces src/config/version.ts in the single-executable bundle: the version is fixed at
 * bundle time (packaging/bundle.ts defines it from package.json), since the executable has
 * no package.json beside it to read.
 */
declare const ROLESANYWHERE_SIDECAR_VERSION: string;

export const VERSION: string = ROLESANYWHERE_SIDECAR_VERSION;
