// Group commit for PostgreSQL: appends queue while a group is in flight and go together, as one call of
// append_events (event-store-schema-v2.ts), as soon as the connection is free — one round trip and one commit per
// group, each append keeping its own version check, condition and result or error.
import {
  type AppendResult,
  ChronicleError,
  categoryOf,
  checkExpectedVersion,
  checkIdempotencyFingerprint,
  conditionConflict,
  type PreparedWrite,
  reportAppendGroup,
} from 'chronicle-es';
import { GroupEvents, lockNames, type SqlCondition } from './event-store-conditions.js';
import { expectedCode } from './event-store-schema.js';
import { LIST_SEPARATOR, MAX_CONDITION_LOCKS } from './event-store-schema-v2.js';
import { isRetryable, isUniqueViolation, storeError } from './pg-error.js';

/** One append() or appendMany() call. */
export type AppendCall = {
  writes: PreparedWrite[];
  key: string | undefined;
  fingerprint: string | undefined;
  condition?: SqlCondition;
};

/** The answer append_events gives for one append (see its contract in event-store-schema.ts and -v2.ts). */
type Answer =
  | { r: Array<[version: number, position: number]> }
  | { d: AppendResult[] }
  | { e: 'mismatch'; f: string }
  | { e: 'deleted'; w: number }
  | { e: 'conflict'; w: number; a: number }
  | { e: 'condition'; p: number };

/** The call of append_events with its 18 parameters, on the quoted schema `s`. */
export const appendEventsSql = (s: string) =>
  `SELECT ${s}.append_events(${Array.from({ length: 18 }, (_, i) => `$${i + 1}`).join(', ')})`;

// Most appends in one group: each keyed one is looked up, each write's stream locked; past this a group only
// grows the transaction the others wait on.
const MAX_GROUP_APPENDS = 64;
const MAX_GROUP_EVENTS = 10_000;
// A group failing on a deadlock or serialization error, or a lone append whose key a concurrent transaction stored
// meanwhile, is sent again this many times.
const MAX_ATTEMPTS = 3;

/**
 * The 18 arguments of append_events for a group, as parallel arrays. The first 13 are those of migration 1's
 * append_events, which takes them alone.
 */
export function encodeGroup(group: readonly AppendCall[]): unknown[] {
  const wStream: string[] = [];
  const wCategory: string[] = [];
  const wExpected: number[] = [];
  const wCount: number[] = [];
  const aWrites: number[] = [];
  const aKey: Array<string | null> = [];
  const aFingerprint: Array<string | null> = [];
  const eWrite: number[] = [];
  const eK: number[] = [];
  const eId: string[] = [];
  const eType: string[] = [];
  const eData: string[] = [];
  const eMetadata: string[] = [];
  const eTags: Array<string | null> = [];
  const aAfter: Array<number | null> = [];
  const qAppend: number[] = [];
  const qTags: Array<string | null> = [];
  const qTypes: Array<string | null> = [];
  for (const call of group) {
    aWrites.push(call.writes.length);
    aKey.push(call.key ?? null);
    aFingerprint.push(call.fingerprint ?? null);
    aAfter.push(call.condition?.after ?? null);
    for (const item of call.condition?.items ?? []) {
      qAppend.push(aWrites.length);
      qTags.push(item.tags?.join(LIST_SEPARATOR) ?? null);
      qTypes.push(item.types?.join(LIST_SEPARATOR) ?? null);
    }
    for (const w of call.writes) {
      wStream.push(w.streamId);
      wCategory.push(categoryOf(w.streamId));
      wExpected.push(expectedCode(w.expectedVersion));
      wCount.push(w.events.length);
      const write = wStream.length;
      for (let k = 0; k < w.events.length; k++) {
        const e = w.events[k];
        eWrite.push(write);
        eK.push(k + 1);
        eId.push(e.id);
        eType.push(e.type);
        eData.push(e.data);
        eMetadata.push(e.metadata);
        eTags.push(e.tags.length === 0 ? null : e.tags.join(LIST_SEPARATOR));
      }
    }
  }
  return [
    ...[wStream, wCategory, wExpected, wCount, aWrites, aKey, aFingerprint, eWrite, eK, eId, eType, eData, eMetadata],
    ...[eTags, aAfter, qAppend, qTags, qTypes],
  ];
}

/** The results of one append from its answer. @throws CONCURRENCY_CONFLICT, STREAM_DELETED, IDEMPOTENCY_MISMATCH */
export function decodeAnswer(call: AppendCall, answer: Answer): AppendResult[] {
  if ('r' in answer) {
    return answer.r.map(([version, position], i) => ({ streamId: call.writes[i].streamId, version, position, duplicate: false }));
  }
  if ('d' in answer) return answer.d.map((r) => ({ ...r, duplicate: true }));
  if (answer.e === 'condition') throw conditionConflict(answer.p, call.condition?.after ?? 0);
  if (answer.e === 'mismatch') {
    checkIdempotencyFingerprint(call.key as string, answer.f, call.fingerprint);
    throw new ChronicleError('STORE_ERROR', 'append_events reported a fingerprint mismatch the fingerprints do not show');
  }
  const w = call.writes[answer.w];
  if (answer.e === 'deleted') {
    throw new ChronicleError('STREAM_DELETED', `stream ${JSON.stringify(w.streamId)} is deleted`, {
      details: { streamId: w.streamId },
    });
  }
  checkExpectedVersion(w.streamId, w.expectedVersion, answer.a);
  throw new ChronicleError(
    'STORE_ERROR',
    `append_events reported a conflict on ${JSON.stringify(w.streamId)} that does not hold`,
  );
}

type Queued = AppendCall & {
  resolve: (results: AppendResult[]) => void;
  reject: (err: unknown) => void;
  /** Its condition-lock names, once a group was formed with it in the queue. */
  locks?: Set<string>;
};

export type AppendWriterStats = {
  /** Groups sent (each one round trip and one transaction). */
  groups: number;
  /** Appends those groups carried. */
  appends: number;
  largestGroup: number;
  /** Groups that failed on a unique violation and were sent again append by append. */
  splits: number;
};

export type AppendWriter = {
  /** Queues one call; settles when its group has committed. */
  enqueue(call: AppendCall): Promise<AppendResult[]>;
  /** Resolves once nothing is queued or in flight. */
  drain(): Promise<void>;
  stats(): AppendWriterStats;
};

/**
 * `run` sends one group's arguments and returns append_events' JSON answer; `committed` hears the highest position a
 * committed group wrote.
 */
export function createAppendWriter(
  run: (args: unknown[]) => Promise<string>,
  committed: (position: number) => void,
): AppendWriter {
  let queue: Queued[] = [];
  let inFlight = false;
  let scheduled = false;
  let idle: Array<() => void> = [];
  const stats: AppendWriterStats = { groups: 0, appends: 0, largestGroup: 0, splits: 0 };

  // setImmediate, not a timer: calls made in the same turn of the event loop (and the follow-ups of a group's callers)
  // join the next group, and a lone caller still goes out at once.
  function kick(): void {
    if (inFlight || scheduled) return;
    if (queue.length === 0) {
      const waiting = idle;
      idle = [];
      for (const done of waiting) done();
      return;
    }
    scheduled = true;
    setImmediate(send);
  }

  // The next group, in queue order. A call waits for the next group when
  // - its key is already in the group: the stored key then answers it as a duplicate (append_events looks keys up
  //   before the group writes them);
  // - it has a condition that an earlier append of the group writes an event for: append_events checks conditions
  //   against the table only, so it must go where those events are stored;
  // - its condition locks would take the group past MAX_CONDITION_LOCKS (a call past it on its own goes alone, and
  //   append_events takes the store-wide lock instead).
  function takeGroup(): Queued[] {
    const group: Queued[] = [];
    const rest: Queued[] = [];
    const keys = new Set<string>();
    const written = new GroupEvents();
    const locks = new Set<string>();
    let events = 0;
    for (const q of queue) {
      const count = q.writes.reduce((n, w) => n + w.events.length, 0);
      const full = group.length >= MAX_GROUP_APPENDS || (group.length > 0 && events + count > MAX_GROUP_EVENTS);
      if (full || (q.key !== undefined && keys.has(q.key)) || (q.condition && written.matches(q.condition))) {
        rest.push(q);
        continue;
      }
      q.locks ??= lockNames(q);
      let added = 0;
      for (const name of q.locks) if (!locks.has(name)) added++;
      if (group.length > 0 && locks.size + added > MAX_CONDITION_LOCKS) {
        rest.push(q);
        continue;
      }
      for (const name of q.locks) locks.add(name);
      if (q.key !== undefined) keys.add(q.key);
      events += count;
      written.add(q.writes);
      group.push(q);
    }
    queue = rest;
    return group;
  }

  async function send(): Promise<void> {
    scheduled = false;
    if (inFlight || queue.length === 0) return kick();
    const group = takeGroup();
    inFlight = true;
    stats.groups++;
    stats.appends += group.length;
    if (group.length > stats.largestGroup) stats.largestGroup = group.length;
    reportAppendGroup('postgres', group.length);
    try {
      await runGroup(group, 1);
    } finally {
      inFlight = false;
      kick();
    }
  }

  async function runGroup(group: Queued[], attempt: number): Promise<void> {
    let text: string;
    try {
      text = await run(encodeGroup(group));
    } catch (err) {
      return failed(group, attempt, err);
    }
    let answers: Answer[];
    try {
      answers = JSON.parse(text) as Answer[];
    } catch (err) {
      for (const q of group) q.reject(storeError(err, 'append_events answer'));
      return;
    }
    let head = 0;
    const settle: Array<() => void> = [];
    for (let i = 0; i < group.length; i++) {
      const q = group[i];
      try {
        const results = decodeAnswer(q, answers[i]);
        if (!('d' in answers[i])) for (const r of results) if (r.position > head) head = r.position;
        settle.push(() => q.resolve(results));
      } catch (err) {
        settle.push(() => q.reject(err));
      }
    }
    // The store hears of the commit before any caller does, so a caller's next read already counts its own write.
    if (head > 0) committed(head);
    for (const s of settle) s();
  }

  async function failed(group: Queued[], attempt: number, err: unknown): Promise<void> {
    if (isUniqueViolation(err) && group.length > 1) {
      // Which append broke the group is not known: each goes again alone, so only that one fails.
      stats.splits++;
      for (const q of group) await runGroup([q], 1);
      return;
    }
    if (isUniqueViolation(err) && (err as { constraint?: string }).constraint === 'events_id_key') {
      const id = /^Key \(id\)=\((.*)\) already exists\.$/.exec(String((err as { detail?: string }).detail))?.[1];
      const q = group[0];
      const what = id === undefined ? 'an event id is already stored' : `event id ${JSON.stringify(id)} is already stored`;
      q.reject(new ChronicleError('INVALID_ARGUMENT', what, { cause: err, details: { eventId: id } }));
      return;
    }
    // A key stored meanwhile by another transaction (the next attempt finds it), a deadlock or a serialization failure.
    if ((isUniqueViolation(err) || isRetryable(err)) && attempt < MAX_ATTEMPTS) return runGroup(group, attempt + 1);
    const error = storeError(err, 'append_events');
    for (const q of group) q.reject(error);
  }

  return {
    enqueue(call: AppendCall): Promise<AppendResult[]> {
      return new Promise<AppendResult[]>((resolve, reject) => {
        queue.push({ ...call, resolve, reject });
        kick();
      });
    },
    drain(): Promise<void> {
      if (!inFlight && !scheduled && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
    stats: () => ({ ...stats }),
  };
}
