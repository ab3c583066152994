// chronicle/http: the Fastify plugin serving commands, queries, OpenAPI, SSE, health and metrics, with auth.

export type { EndpointAccess } from './access.js';
export {
  type Authenticator,
  type AuthRequest,
  type Credentials,
  combineAuthenticators,
  createApiKeyAuthenticator,
  credentialsOf,
} from './auth.js';
export { type Consistency, type ConsistencyOptions, readConsistency } from './consistency.js';
export type { ConsoleOptions } from './console/index.js';
export {
  createJwtAuthenticator,
  type JwtAuthenticatorOptions,
  type JwtClaims,
  type JwtVerifyOptions,
  signJwt,
  verifyJwt,
} from './jwt.js';
export { logRedaction } from './log-redaction.js';
export { createHttpMetrics, type HttpMetrics, type HttpMetricsOptions, type MetricsRegistry } from './metrics.js';
export { buildOpenApiDocument, type OpenApiInfo, type OpenApiInput } from './openapi.js';
export { type ChronicleHttpOptions, chronicleHttp, problemErrorHandler, sendProblem } from './plugin.js';
export {
  type HttpProblemCode,
  PROBLEM_TABLE,
  type Problem,
  type ProblemCode,
  problemOf,
  problemType,
  toProblem,
} from './problem.js';
export { projectionMetrics } from './projection-metrics.js';
export { createQueryStringCoercer, type QueryStringCoercer } from './query-string.js';
export {
  createReadiness,
  isReady,
  type ProjectionReadiness,
  type ReadinessCheck,
  type ReadinessOptions,
  type ReadinessReport,
} from './readiness.js';
export { type RelayMetricsStatus, relayMetrics } from './relay-metrics.js';
export { type ScheduleMetricsSource, scheduleMetrics } from './schedule-metrics.js';
export { type CreateServerOptions, createServer } from './server.js';
export type { NotificationSource, PositionSource, ProjectionChange } from './sse.js';
export { type TenantAuthenticatorOptions, tenantAuthenticator } from './tenant.js';
