// Queries over the tagged log: which events a decision depends on, and how an event is matched against them.
import { ChronicleError } from './errors.js';
import type { QueryItem, Query as QueryItems, RecordedEvent } from './event-store.js';
import { nameProblem } from './name-rules.js';

/** Which events a decision depends on: the events matching any of its items. */
export type Query = QueryItems;

/** Builders for the common queries; a literal array of items is a query too. */
export const Query = {
  /** Every event in the store. */
  all: (): Query => [{}],
  /** The events carrying every one of these tags (a stream id counts as a tag), of any type. */
  tags: (tag: string, ...more: string[]): Query => [{ tags: [tag, ...more] }],
  /** The events matching any of these items. */
  of: (item: QueryItem, ...more: QueryItem[]): Query => [item, ...more],
};

const MAX_ITEMS = 1000;
const MAX_TAGS_PER_EVENT = 64;

/** @throws INVALID_ARGUMENT unless `tag` is a non-empty string of at most 512 characters (as a stream id, which counts
 * as a tag) without control characters. */
export function assertTag(tag: unknown): asserts tag is string {
  const problem = nameProblem(tag, 'tag');
  if (problem !== undefined) throw new ChronicleError('INVALID_ARGUMENT', problem);
}

/** An event's tags checked, repeats dropped, in the order first given. @throws INVALID_ARGUMENT */
export function normalizeTags(tags: unknown, what: string): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new ChronicleError('INVALID_ARGUMENT', `${what} tags must be an array of strings`);
  for (const tag of tags) assertTag(tag);
  const unique = tags.length < 2 ? [...tags] : [...new Set<string>(tags)];
  if (unique.length > MAX_TAGS_PER_EVENT) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what} has more than ${MAX_TAGS_PER_EVENT} tags`);
  }
  return unique;
}

/**
 * A query checked and copied: at least one item, each item's `types` and `tags` non-empty arrays of strings when
 * given, nothing else in an item (a misspelt key would silently widen the query to every event).
 * @throws INVALID_ARGUMENT
 */
export function normalizeQuery(query: unknown): Query {
  if (!Array.isArray(query) || query.length === 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'a query is a non-empty array of items; use Query.all() for every event');
  }
  if (query.length > MAX_ITEMS) throw new ChronicleError('INVALID_ARGUMENT', `a query has at most ${MAX_ITEMS} items`);
  return query.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ChronicleError('INVALID_ARGUMENT', `query item ${i} must be an object { types?, tags? }`);
    }
    const out: { types?: string[]; tags?: string[] } = {};
    for (const [key, value] of Object.entries(item)) {
      if (value === undefined) continue;
      if (key !== 'types' && key !== 'tags') {
        throw new ChronicleError('INVALID_ARGUMENT', `query item ${i} has an unknown key ${JSON.stringify(key)}`);
      }
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) {
        throw new ChronicleError('INVALID_ARGUMENT', `query item ${i}: ${key} must be a non-empty array of strings`);
      }
      if (key === 'tags') for (const tag of value) assertTag(tag);
      out[key] = [...new Set<string>(value)];
    }
    return out;
  });
}

/** True when the event matches the item: its type is one of the item's types, and it carries all the item's tags. */
export function matchesItem(event: Pick<RecordedEvent, 'type' | 'streamId' | 'tags'>, item: QueryItem): boolean {
  if (item.types !== undefined && !item.types.includes(event.type)) return false;
  if (item.tags !== undefined) {
    for (const tag of item.tags) if (tag !== event.streamId && !event.tags.includes(tag)) return false;
  }
  return true;
}

/** True when the event matches any item of the query. */
export function matchesQuery(event: Pick<RecordedEvent, 'type' | 'streamId' | 'tags'>, query: Query): boolean {
  for (const item of query) if (matchesItem(event, item)) return true;
  return false;
}
