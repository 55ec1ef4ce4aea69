/** The refresh layer: the refresh-time rule, the refresher holding the last good credentials, and the identity-file watcher. */
export {
  DEFAULT_MIN_REMAINING_MS,
  SERVE_SKEW_MS,
  THROTTLED_RETRY_CAP_MS,
  failureRetryDelayMs,
  goalAchievable,
  isFresh,
  lifetimeWarning,
  refreshAt,
  refreshDelayMs,
  refreshFloorMs,
  servable,
} from './schedule.js';
export type { RefreshTimeInput, RetryOptions } from './schedule.js';
export { CredentialRefresher } from './refresher.js';
export type { CredentialRefresherOptions, CredentialSnapshot, RefreshFailureInfo, RefreshSuccessInfo, RefresherStatus } from './refresher.js';
export { DEFAULT_IDENTITY_POLL_MS, IdentityWatcher, MAX_IDENTITY_FILE_BYTES, hashIdentityFiles, hashIdentityInputs, identityKey } from './identity-watcher.js';
export type { CheckResult, IdentityWatcherOptions, WatchStart } from './identity-watcher.js';
