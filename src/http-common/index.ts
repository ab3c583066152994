// Internal: what every HTTP adapter (Fastify, fetch, Nest) shares so they cannot drift — the problem table, the
// OpenAPI generator, authenticators, consistency waits, query-string coercion and request headers. Not a package
// entry: chronicle-es/http, chronicle-es/fetch and chronicle-es/nest re-export what users need.

export type { HttpApiOptions } from './api-options.js';
export {
  type Authenticator,
  type AuthRequest,
  type Credentials,
  combineAuthenticators,
  createApiKeyAuthenticator,
  credentialsOf,
  digest,
  unauthenticated,
} from './auth.js';
export {
  type ChangeFeedConnection,
  type NotificationSource,
  openChangeFeed,
  type PositionSource,
  type ProjectionChange,
} from './change-feed.js';
export {
  type Consistency,
  type ConsistencyOptions,
  MIN_POSITION_HEADER,
  readConsistency,
  WAIT_MS_HEADER,
} from './consistency.js';
export { type EndpointAccess, endpointAccessCheck } from './endpoint-access.js';
export { DEFAULT_MAX_JSON_DEPTH, deeperThan } from './json-depth.js';
export {
  createJwtAuthenticator,
  type JwtAuthenticatorOptions,
  type JwtClaims,
  type JwtVerifyOptions,
  signJwt,
  verifyJwt,
} from './jwt.js';
export { buildOpenApiDocument, type OpenApiInfo, type OpenApiInput, openApiBody } from './openapi.js';
export {
  type HttpProblemCode,
  MAX_LISTED_ERRORS,
  PROBLEM_TABLE,
  type Problem,
  type ProblemCode,
  problemOf,
  problemType,
  toProblem,
} from './problem.js';
export { createQueryStringCoercer, type QueryStringCoercer } from './query-string.js';
export {
  createReadiness,
  isReady,
  type ProjectionReadiness,
  type ReadinessCheck,
  type ReadinessOptions,
  type ReadinessReport,
} from './readiness.js';
export {
  CORRELATION_ID_HEADER,
  correlationIdFrom,
  type HeaderMap,
  idempotencyKeyFrom,
  validTraceparent,
} from './request-headers.js';
export { type TenantAuthenticatorOptions, tenantAuthenticator } from './tenant.js';
