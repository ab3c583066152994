// chronicle/fetch: the HTTP API on the fetch standard — a `(Request) => Promise<Response>` for Hono, Bun, Deno, workers.

export {
  type Authenticator,
  type AuthRequest,
  combineAuthenticators,
  createApiKeyAuthenticator,
  createJwtAuthenticator,
  createReadiness,
  type EndpointAccess,
  type JwtAuthenticatorOptions,
  type NotificationSource,
  type OpenApiInfo,
  type PositionSource,
  type Problem,
  type ProblemCode,
  type ProjectionChange,
  type ReadinessReport,
  toProblem,
} from '../http-common/index.js';
export { createFetchHandler, type FetchHandler, type FetchHandlerOptions } from './fetch-handler.js';
