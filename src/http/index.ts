// chronicle/http: the Fastify plugin serving commands, queries, OpenAPI, SSE, health and metrics, with auth.

export {
  type Authenticator,
  type AuthRequest,
  buildOpenApiDocument,
  type Consistency,
  type ConsistencyOptions,
  type Credentials,
  combineAuthenticators,
  createApiKeyAuthenticator,
  createJwtAuthenticator,
  createQueryStringCoercer,
  createReadiness,
  credentialsOf,
  type HttpProblemCode,
  isReady,
  type JwtAuthenticatorOptions,
  type JwtClaims,
  type JwtVerifyOptions,
  type OpenApiInfo,
  type OpenApiInput,
  PROBLEM_TABLE,
  type Problem,
  type ProblemCode,
  type ProjectionReadiness,
  problemOf,
  problemType,
  type QueryStringCoercer,
  type ReadinessCheck,
  type ReadinessOptions,
  type ReadinessReport,
  readConsistency,
  signJwt,
  toProblem,
  verifyJwt,
} from '../http-common/index.js';
export type { EndpointAccess } from './access.js';
export type { ConsoleOptions } from './console/index.js';
export { logRedaction } from './log-redaction.js';
export { createHttpMetrics, type HttpMetrics, type HttpMetricsOptions, type MetricsRegistry } from './metrics.js';
export { type ChronicleHttpOptions, chronicleHttp, problemErrorHandler, sendProblem } from './plugin.js';
export { projectionMetrics } from './projection-metrics.js';
export { type RelayMetricsStatus, relayMetrics } from './relay-metrics.js';
export { type ScheduleMetricsSource, scheduleMetrics } from './schedule-metrics.js';
export { type CreateServerOptions, createServer } from './server.js';
export type { NotificationSource, PositionSource, ProjectionChange } from './sse.js';
export { type TenantAuthenticatorOptions, tenantAuthenticator } from './tenant.js';
