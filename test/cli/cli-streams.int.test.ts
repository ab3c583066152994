// `chronicle streams list|show` and `stats` on a real SQLite file and on PostgreSQL, through the store-inspection port:
// the counts and pages match what the store holds; bad input exits with one line.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStore, RecordedEvent } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWholeLog, writeSampleLog } from '../../src/core/log-transfer/fixtures/sample-log.js';
import { type FreshSchema, freshSchema, pgAvailable } from '../support/postgres.js';
import { cli, cliProcess, json, oneLineFailure } from './cli-run.js';

let dir: string;
const schemas: FreshSchema[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-cli-streams-'));
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  await rm(dir, { recursive: true, force: true });
});

type Target = { name: string; args: () => string[]; open: () => EventStore };

const sqlite: Target = {
  name: 'sqlite',
  args: () => ['--store', join(dir, 'events.db')],
  open: () => createSqliteEventStore({ path: join(dir, 'events.db') }),
};
const fresh = pgAvailable ? freshSchema('cli_streams') : undefined;
if (fresh) schemas.push(fresh);
const postgres: Target = {
  name: 'postgres',
  args: () => ['--store', fresh!.connectionString, '--schema', fresh!.schema],
  open: () => createPostgresEventStore({ connectionString: fresh!.connectionString, schema: fresh!.schema }),
};

for (const target of pgAvailable ? [sqlite, postgres] : [sqlite]) {
  describe(`chronicle streams and stats (${target.name})`, () => {
    let log: RecordedEvent[];
    beforeAll(async () => {
      const store = target.open();
      try {
        await writeSampleLog(store, 40);
        log = await readWholeLog(store);
      } finally {
        await store.close();
      }
    }, 60_000);

    const ids = () => [...new Set(log.map((e) => e.streamId))].sort();

    it('counts events, streams and categories', async () => {
      const result = await cli(...target.args(), '--json', 'stats');
      expect(result.code, result.stderr).toBe(0);
      const stats = json(result);
      expect(stats).toMatchObject({ events: log.length, streams: ids().length, headPosition: log.at(-1)!.position });
      const orders = log.filter((e) => e.streamId.startsWith('order-'));
      expect(stats.categories.find((c: { category: string }) => c.category === 'order')).toEqual({
        category: 'order',
        streams: new Set(orders.map((e) => e.streamId)).size,
        events: orders.length,
      });
    });

    it('lists streams a page at a time, in id order, by category', async () => {
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const result = await cli(
          ...target.args(),
          '--json',
          'streams',
          'list',
          '--limit',
          '7',
          ...(after ? ['--after', after] : []),
        );
        expect(result.code, result.stderr).toBe(0);
        const page = json(result);
        seen.push(...page.streams.map((s: { streamId: string }) => s.streamId));
        if (!page.next) break;
        after = page.next;
      }
      expect(seen).toEqual(ids());
      const orders = json(await cli(...target.args(), '--json', 'streams', 'list', '--category', 'order', '--limit', '500'));
      expect(orders.streams.map((s: { streamId: string }) => s.streamId)).toEqual(ids().filter((id) => id.startsWith('order-')));
    });

    it("shows a stream's events newest first, paged by version", async () => {
      const id = 'catalog-1';
      const events = log.filter((e) => e.streamId === id);
      expect(events.length).toBeGreaterThan(2);
      const first = json(await cli(...target.args(), '--json', 'streams', 'show', id, '--limit', '2'));
      expect(first.stream).toMatchObject({ streamId: id, version: events.length });
      expect(first.events.map((e: RecordedEvent) => e.id)).toEqual(
        events
          .slice(-2)
          .reverse()
          .map((e) => e.id),
      );
      const next = json(
        await cli(...target.args(), '--json', 'streams', 'show', id, '--limit', '2', '--before', String(first.next)),
      );
      expect(next.events[0].version).toBe(events.length - 2);
      const text = await cliProcess(...target.args(), 'streams', 'show', id, '--limit', '1');
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`${id}: version ${events.length}`);
      expect(text.stdout).toContain(events.at(-1)!.type);
    });

    it('refuses an unknown stream and a page too large, with one line', async () => {
      expect(oneLineFailure(await cli(...target.args(), 'streams', 'show', 'nobody-here'))).toContain('no stream "nobody-here"');
      expect(oneLineFailure(await cli(...target.args(), 'streams', 'list', '--limit', '501'))).toContain('limit');
    });
  });
}
