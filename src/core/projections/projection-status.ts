// The status report of a projector's projections: position, lag, state, last error, rebuild progress, which worker
// holds each one, and the open append (if any) that holds every reader of the log back.
import type { EventSource, StalledRead } from '../event-store.js';
import { servedFailure } from './projection-failure.js';
import type { ProjectionFailure, ProjectionRecord } from './projection-store.js';

export type ProjectionState = 'live' | 'catching_up' | 'rebuilding' | 'failed' | 'stopped';

export type ProjectionStatus = {
  name: string;
  /** Version of the generation serving queries. */
  version: number;
  /** Checkpoint of the generation serving queries. */
  position: number;
  /** Global positions between the checkpoint and the store's head. */
  lagEvents: number;
  /** Age of the oldest event not yet past the checkpoint; 0 when caught up. */
  lagSeconds: number;
  /**
   * With leases, a projection another worker holds reports the state its stored record shows (failed, rebuilding,
   * live or catching up); one that no worker holds is stopped.
   */
  state: ProjectionState;
  /** Why the projection is failed (kept, while stopped, from the read store). */
  lastError?: {
    message: string;
    /** The ChronicleError code, when the failure was one; READ_STORE_CORRUPT means the read store's file is damaged. */
    code?: string;
    eventId?: string;
    position?: number;
    type?: string;
    /** The generation that failed: the served one (`state` is failed) or the rebuild's (`rebuild.failed`). */
    generation?: number;
  };
  /**
   * Progress of a rebuild into fresh tables; it swaps in once `position` reaches `target` (the served checkpoint,
   * which keeps moving, or the head when it started if the served generation is of an older version). `failed`
   * when the rebuild stopped on a failure (see `lastError`) while the served generation may go on.
   */
  rebuild?: { version: number; position: number; target: number; failed?: boolean };
  /** The worker holding the projection's lease, when the read store has leases and one holds it. */
  owner?: string;
  /** Whether this projector is the worker holding it; present only when the read store has leases. */
  held?: boolean;
  /** An append left open so long that no reader of the log can pass it (stores that can tell; see EventStore.stalledBy). */
  stalledBy?: StalledRead;
};

/** What is known of one projection when its status is taken: from its runner here, or from the store. */
export type ProjectionView = {
  name: string;
  /** The version shown while nothing is stored yet. */
  definedVersion: number;
  record: ProjectionRecord | undefined;
  state: ProjectionState;
  failure: ProjectionFailure | undefined;
  /**
   * Given by a runner here: the checkpoint its rebuild swaps in at (when its loop runs) and whether that loop failed.
   * Absent, the target is the head and the stored failure says whether the rebuild failed.
   */
  rebuild?: { target?: number; failed: boolean };
  owner?: string;
  held?: boolean;
};

/** The state a stored record shows for a projection another worker holds. */
export function storedState(record: ProjectionRecord | undefined, head: number): ProjectionState {
  if (!record) return 'catching_up';
  if (servedFailure(record)) return 'failed';
  if (record.rebuild) return 'rebuilding';
  return record.position >= head ? 'live' : 'catching_up';
}

export type StatusContext = {
  eventStore: Pick<EventSource, 'readAll' | 'stalledBy'>;
  /** The log's head, read once for the whole report. */
  head: number;
  /** Passed to `eventStore.stalledBy`. */
  stalledThresholdMs: number;
};

/** The status of every projection viewed, with lag measured against one head and one clock reading. */
export async function reportStatus(views: readonly ProjectionView[], context: StatusContext): Promise<ProjectionStatus[]> {
  const { eventStore, head } = context;
  const now = Date.now();
  // The report is still worth having when the store cannot say; stalledBy is an extra.
  const stalledBy = await eventStore.stalledBy?.(context.stalledThresholdMs).catch(() => undefined);
  return Promise.all(
    views.map(async (view) => {
      const position = view.record?.position ?? 0;
      const lagEvents = Math.max(0, head - position);
      return describeProjection(view, head, lagEvents > 0 ? await ageOf(eventStore, position + 1, now) : 0, stalledBy);
    }),
  );
}

/** One projection's status from its view; `lagSeconds` is measured by the caller. */
export function describeProjection(
  view: ProjectionView,
  head: number,
  lagSeconds: number,
  stalledBy?: StalledRead,
): ProjectionStatus {
  const { record, failure } = view;
  const position = record?.position ?? 0;
  const status: ProjectionStatus = {
    name: view.name,
    version: record?.version || view.definedVersion,
    position,
    lagEvents: Math.max(0, head - position),
    lagSeconds,
    state: view.state,
  };
  if (failure) {
    const { message, code, eventId, position: at, type, generation } = failure;
    status.lastError = {
      message,
      ...(code !== undefined && { code }),
      ...(eventId !== undefined && { eventId, position: at, type }),
      ...(generation !== undefined && { generation }),
    };
  }
  if (record?.rebuild) {
    const { version, position: at, generation } = record.rebuild;
    const target = view.rebuild?.target ?? Math.max(head, position);
    status.rebuild = { version, position: at, target };
    if (view.rebuild ? view.rebuild.failed : failure?.generation === generation) status.rebuild.failed = true;
  }
  if (view.owner !== undefined) status.owner = view.owner;
  if (view.held !== undefined) status.held = view.held;
  if (stalledBy) status.stalledBy = stalledBy;
  return status;
}

// How long the event at `position` (the oldest not yet applied) has been waiting; 0 when it cannot be read. A source
// may be unable to read exactly that event (a JetStream source stopped at a foreign message there, which is what
// failed the projection): the report must still come, and say why through the projection's lastError.
async function ageOf(eventStore: Pick<EventSource, 'readAll'>, position: number, now: number): Promise<number> {
  const [next] = await eventStore.readAll({ from: position, limit: 1 }).catch(() => []);
  const at = next ? Date.parse(next.metadata.timestamp) : Number.NaN;
  return Number.isFinite(at) ? Math.max(0, (now - at) / 1000) : 0;
}
