// The options every HTTP adapter (the Fastify plugin, the fetch handler) takes alike: one place, so they cannot drift.
import type { CommandBus, QueryBus } from 'chronicle-es';
import type { Authenticator } from './auth.js';
import type { NotificationSource, PositionSource } from './change-feed.js';
import type { EndpointAccess } from './endpoint-access.js';
import type { OpenApiInfo } from './openapi.js';
import type { ReadinessReport } from './readiness.js';

/** What the Chronicle routes serve, and how, on any adapter. */
export type HttpApiOptions = {
  commandBus?: CommandBus;
  queryBus?: QueryBus;
  /** Resolves the principal passed to the buses; without it every request is anonymous. */
  authenticate?: Authenticator;
  /** Read-model change feed for `GET /events/stream`; without it the stream is not served. */
  notifications?: NotificationSource;
  /**
   * `GET /events/stream`: who may follow it (default: any principal; `roles` narrows it; `public: true` opens it
   * to anyone, e.g. for browsers' EventSource, which cannot send headers), the heartbeat interval in ms (default
   * 15000), and `positions`, each projection's current position, sent first on every connection so a client
   * that reconnects (with `Last-Event-ID`) learns what moved while it was away.
   */
  events?: EndpointAccess & { heartbeatMs?: number; positions?: PositionSource };
  /** Title and version of `GET /openapi.json`. Default `{ title: 'Chronicle API', version: '1.0.0' }`. */
  openapi?: OpenApiInfo;
  /** minPosition wait when no `Chronicle-Wait-Ms` is sent, in ms. Default 5000. */
  defaultWaitMs?: number;
  /** Cap on `Chronicle-Wait-Ms`, in ms. Default 30000. */
  maxWaitMs?: number;
  /**
   * Readiness for `GET /health/ready` (e.g. `createReadiness({ projector, stores })`): it answers 200 with the
   * report, or 503 (problem+json with the report's members) while not ready or when this throws. `GET /health`
   * is liveness only and never calls it. Without it, ready is always true.
   */
  readiness?: () => ReadinessReport | Promise<ReadinessReport>;
  /** Largest accepted JSON body, in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** JSON nesting deeper than this is refused with 400 (deep values crash JSON.stringify downstream). Default 64. */
  maxJsonDepth?: number;
  /** Prefix of every Chronicle route, e.g. `/api`. Default none. */
  prefix?: string;
};
