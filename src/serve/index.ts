export type { CredentialView } from './view.js';
export { requestPath, type RequestHandler } from './http-util.js';
export { ImdsTokenStore, IMDS_TOKEN_TTL_MAX, IMDS_TOKEN_TTL_MIN, type ImdsTokenStoreOptions } from './imds-tokens.js';
export { createImdsHandler, type ImdsHandlerOptions } from './imds.js';
export { createContainerHandler, type ContainerHandlerOptions } from './container.js';
export { createOpsHandler, type OpsHandlerOptions } from './ops.js';
export { generateToken, validateContainerToken, writeSecretFile } from './token.js';
export { defaultListenerLimits, isLoopbackHost, startListener, type Listener, type ListenerLimits, type ListenerOptions } from './listener.js';
export { checkBrowser, checkHost, guardCredentialRequest, hostOf, normaliseAllowedHost, type GuardVerdict, type RequestGuardOptions } from './request-guard.js';
