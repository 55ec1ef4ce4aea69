/**
 * The library entry point (`import { fromRolesAnywhere } from 'rolesanywhere-sidecar'`):
 * an AWS SDK for JavaScript v3 credential provider for IAM Roles Anywhere, and the error
 * type its failures reject with. The CLI is `dist/cmd/rolesanywhere-sidecar.js`.
 */
export { fromRolesAnywhere, type FromRolesAnywhereOptions, type PathOrContent, type RolesAnywhereCredentialProvider } from './sdk/from-roles-anywhere.js';
export { SidecarError, isSidecarError, type ErrorCode } from './core/errors.js';
export type { Logger, LogFields, LogLevel } from './core/logger.js';
export type { Clock, Random } from './core/clock.js';
export type { ProxySettings } from './session/http.js';
