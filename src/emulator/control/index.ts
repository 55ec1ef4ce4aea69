/** The emulated Roles Anywhere control plane: state store, REST-JSON API, admin SigV4. */
export {
  ControlPlaneStore,
  MAX_CRLS_PER_TRUST_ANCHOR,
  MAX_ROLES_PER_PROFILE,
  type StateDocument,
  type StoreOptions,
  type TrustAnchorRecord,
  type ProfileRecord,
  type CrlRecord,
  type SubjectRecord,
} from './store.js';
export { handleControlRequest, isControlPath, operationOf, MAX_CONTROL_BODY_BYTES, type ControlRequest, type ControlResponse } from './api.js';
export { authenticateAdmin, type AdminCredentials } from './auth.js';
export { ControlPlaneError } from './errors.js';
export { parseCrl, revocationOf, MAX_CRL_BYTES } from './crl.js';
