export {
  createLogger,
  defaultLogLimits,
  isLogLevel,
  isSecretFieldName,
  REDACTED,
  sanitize,
  type LogFormat,
  type LogLimits,
  type LoggerOptions,
} from './logger.js';
export { createMetrics, METRIC_PREFIX, type Metrics, type MetricsOptions } from './metrics.js';
