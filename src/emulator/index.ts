/** The local IAM Roles Anywhere emulator (CreateSession + STS GetCallerIdentity): public API. */
export {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DEFAULT_PROFILE_ARN,
  DEFAULT_PROFILE_ID,
  DEFAULT_PROFILE_MAX_DURATION_SECONDS,
  DEFAULT_REGION,
  DEFAULT_ROLE_ARN,
  DEFAULT_ROLE_NAME,
  DEFAULT_TRUST_ANCHOR_ARN,
  DEFAULT_TRUST_ANCHOR_ID,
  MAX_DURATION_SECONDS,
  MIN_DURATION_SECONDS,
  defaultEmulatorConfig,
  profileArnFor,
  roleArnFor,
  trustAnchorArnFor,
  validateEmulatorConfig,
  type DefaultEmulatorConfigOptions,
  type EmulatorConfig,
  type EmulatorProfile,
  type EmulatorTrustAnchor,
  type Partition,
} from './config.js';
export { validateChain, MAX_INTERMEDIATES, type ChainResult } from './chain.js';
export {
  MAX_BODY_BYTES,
  verifyCreateSession,
  type CreateSessionErrorType,
  type ReceivedRequest,
  type SessionParams,
  type VerifiedSession,
  type VerifyFailure,
  type VerifyResult,
} from './verifier.js';
export { IssuedStore, issueSession, type IssuedRecord } from './issuer.js';
export {
  Faults,
  parseFaultSpec,
  validateFault,
  type FaultController,
  type FaultDecision,
  type FaultPlan,
  type FaultState,
  type ScriptedFault,
} from './faults.js';
export { handleSts, type StsContext, type StsResponse } from './sts.js';
export {
  decideAssumeRole,
  parseStsRoleSpecs,
  policyProblem,
  validateStsRoles,
  ROLE_CHAINING_MAX_SECONDS,
  type StsRole,
  type StsSettings,
} from './assume-role.js';
export { startEmulator, type EmulatorStats, type RunningEmulator, type StartEmulatorOptions } from './server.js';
export { issueCertificate, issueCrl, randomSerialHex, type CrlOptions, type IssueOptions, type IssuedCertificate, type KeySpec } from './pki.js';
export {
  ControlPlaneStore,
  ControlPlaneError,
  MAX_CRLS_PER_TRUST_ANCHOR,
  MAX_ROLES_PER_PROFILE,
  handleControlRequest,
  type AdminCredentials,
  type StateDocument,
} from './control/index.js';
