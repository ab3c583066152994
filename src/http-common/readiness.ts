// Readiness for GET /health/ready: can the stores answer, and where is each projection.
import { isChronicleError, type ProjectionStatus } from 'chronicle-es';

/** One dependency's answer; `error` is a short code (never the error's message, which may name server internals). */
export type ReadinessCheck = { ok: boolean; error?: string };

/** A projection as readiness reports it. */
export type ProjectionReadiness = {
  name: string;
  state: ProjectionStatus['state'];
  position: number;
  lagEvents: number;
  lagSeconds: number;
  /** With projection leases: the worker holding it, and whether that is this one. */
  owner?: string;
  held?: boolean;
};

/** What a `readiness` function reports; `GET /health/ready` answers 200 with it when ready, else 503. */
export type ReadinessReport = {
  /** The verdict, when the report wants to give it; by default {@link isReady} decides. */
  ready?: boolean;
  /** Named dependency checks, e.g. `{ events: { ok: true }, read: { ok: false, error: 'timeout' } }`. */
  checks?: Record<string, ReadinessCheck>;
  projections?: readonly ProjectionReadiness[];
};

export type ReadinessOptions = {
  /** Reports each projection; a failed or stopped one makes the service not ready. */
  projector?: { status(): Promise<readonly ProjectionStatus[]> };
  /** Probes by name: each must resolve (any value) within `timeoutMs`, e.g. `{ events: () => store.headPosition() }`. */
  stores?: Record<string, () => unknown>;
  /** How long a probe (and the projector's status) may take, in ms. Default 2000. */
  timeoutMs?: number;
};

/**
 * Ready when every check is ok and no projection is failed or stopped (catching up and rebuilding still serve). With
 * leases, a projection this worker does not hold is another worker's to run: stopped here (nobody holds it during a
 * handover, for at most a lease ttl) does not make this one unready; failed still does.
 */
export function isReady(report: ReadinessReport): boolean {
  if (report.ready !== undefined) return report.ready;
  for (const check of Object.values(report.checks ?? {})) if (!check.ok) return false;
  return (report.projections ?? []).every((p) => p.state !== 'failed' && (p.state !== 'stopped' || p.held === false));
}

/** Builds a `readiness` function for chronicleHttp/createServer from a projector and store probes. */
export function createReadiness(options: ReadinessOptions): () => Promise<ReadinessReport> {
  const timeoutMs = options.timeoutMs ?? 2000;
  return async () => {
    const checks: Record<string, ReadinessCheck> = {};
    const probes = Object.entries(options.stores ?? {}).map(async ([name, probe]) => {
      checks[name] = await bounded(async () => probe(), timeoutMs).then(
        () => ({ ok: true }),
        (err: unknown) => ({ ok: false, error: errorCode(err) }),
      );
    });
    let projections: ProjectionReadiness[] | undefined;
    if (options.projector) {
      const projector = options.projector;
      probes.push(
        bounded(async () => projector.status(), timeoutMs).then(
          (status) => {
            projections = status.map(({ name, state, position, lagEvents, lagSeconds, owner, held }) => ({
              name,
              state,
              position,
              lagEvents,
              lagSeconds,
              ...(owner !== undefined && { owner }),
              ...(held !== undefined && { held }),
            }));
          },
          (err: unknown) => {
            checks.projector = { ok: false, error: errorCode(err) };
          },
        ),
      );
    }
    await Promise.all(probes);
    return projections ? { checks, projections } : { checks };
  };
}

class ProbeTimeout extends Error {}

function bounded<T>(run: () => Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ProbeTimeout()), timeoutMs);
    run().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function errorCode(err: unknown): string {
  if (err instanceof ProbeTimeout) return 'timeout';
  return isChronicleError(err) ? err.code : 'error';
}
