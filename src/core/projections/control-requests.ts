// Control requests: the checks every read store's ProjectionControl shares, and the in-memory one.
import { randomUUID } from 'node:crypto';
import { ChronicleError } from '../errors.js';
import type { ControlAction, ControlRequest, ProjectionControl } from './projection-store.js';

/** The actions a control request may ask for. */
export const CONTROL_ACTIONS: readonly ControlAction[] = ['rebuild', 'retry', 'skip'];

/** How long a settled (or expired) request is kept before a later request drops it: a week. */
export const CONTROL_KEEP_MS = 7 * 24 * 3600 * 1000;

// A request must be taken within this: longer than a day means someone will be surprised by it.
const MAX_TTL_MS = 24 * 3600 * 1000;

/**
 * Checks a request's arguments before a store records it, and returns a fresh id for it.
 * @throws INVALID_ARGUMENT unknown action, empty projection name, ttl not from 1 ms to a day
 */
export function checkControlRequest(projection: unknown, action: unknown, ttlMs: unknown): string {
  if (typeof projection !== 'string' || projection === '') {
    throw new ChronicleError('INVALID_ARGUMENT', 'a control request needs a projection name');
  }
  if (!CONTROL_ACTIONS.includes(action as ControlAction)) {
    throw new ChronicleError('INVALID_ARGUMENT', `control action must be one of ${CONTROL_ACTIONS.join(', ')}`);
  }
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) {
    throw new ChronicleError('INVALID_ARGUMENT', `control request ttlMs must be an integer from 1 to ${MAX_TTL_MS}`);
  }
  return randomUUID();
}

/** The error a failed request keeps: its code when it was a ChronicleError, and its message. */
export function controlError(err: unknown): { code?: string; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? { code, message } : { message };
}

/** Control requests in memory, on `clock` (ms). */
export function createInMemoryControl(clock: () => number, assertOpen: () => void): ProjectionControl {
  const requests = new Map<string, ControlRequest>();
  const iso = (ms: number) => new Date(ms).toISOString();
  const live = (r: ControlRequest) => r.state === 'pending' && Date.parse(r.expiresAt) > clock();
  return {
    async request(projection, action, ttlMs) {
      assertOpen();
      const id = checkControlRequest(projection, action, ttlMs);
      const now = clock();
      for (const [key, r] of requests) {
        if (r.state !== 'taken' && Date.parse(r.expiresAt) < now - CONTROL_KEEP_MS) requests.delete(key);
      }
      const request: ControlRequest = {
        id,
        projection,
        action,
        state: 'pending',
        requestedAt: iso(now),
        expiresAt: iso(now + ttlMs),
      };
      requests.set(id, request);
      return structuredClone(request);
    },
    async get(id) {
      assertOpen();
      const r = requests.get(id);
      return r && structuredClone(r);
    },
    async pending() {
      assertOpen();
      return [...requests.values()].filter(live).map((r) => structuredClone(r));
    },
    async take(id, worker) {
      assertOpen();
      const r = requests.get(id);
      if (!r || !live(r)) return false;
      r.state = 'taken';
      r.takenBy = worker;
      return true;
    },
    async finish(id, error) {
      assertOpen();
      const r = requests.get(id);
      if (r?.state !== 'taken') return;
      r.state = error ? 'failed' : 'done';
      if (error) r.error = { ...error };
    },
    async cancel(id) {
      assertOpen();
      const r = requests.get(id);
      if (r?.state !== 'pending') return false;
      r.state = 'cancelled';
      return true;
    },
  };
}
