/** The CreateSession client: ARNs, endpoints, retries, response validation, HTTP transport. */
export { MAX_ARN_LENGTH, accountIdOfRoleArn, parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn, type Arn } from './arn.js';
export { PARTITIONS, parseEndpointUrl, resolveEndpoint, type EndpointInput, type PartitionInfo, type ResolvedEndpoint } from './endpoint.js';
export { DEFAULT_RETRY_POLICY, REFRESHER_RETRY_POLICY, backoffDelayMs, isRetryableStatus, parseRetryAfter, type RetryPolicy } from './retry.js';
export {
  MAX_RESPONSE_BYTES,
  headerValue,
  parseCreateSessionResponse,
  serviceError,
  type ResponseHeaders,
  type ServiceErrorContext,
  type SessionResult,
} from './response.js';
export {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  createDispatcher,
  describeProxyUrl,
  type DispatcherOptions,
  type ProxySettings,
} from './http.js';
export { CreateSessionClient, USER_AGENT_PRODUCT, userAgentFor, type AttemptEvent, type CreateSessionClientOptions } from './client.js';
