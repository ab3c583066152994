// The PostgreSQL key store: the shipped conformance suite against the real server, and crypto-shredding over the
// PostgreSQL event store: the personal value is never in the events table, and forget redacts it for every reader.
import { defineEvent, FORGOTTEN, personal, withCryptoShredding } from 'chronicle-es';
import { describeSubjectKeyStoreConformance } from 'chronicle-es/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresEventStore, createPostgresKeyStore } from './index.js';

const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

const Registered = defineEvent(
  'CustomerRegistered',
  z.object({ customerId: z.string(), name: personal(z.string()), email: personal(z.string()) }),
  { subject: 'customerId' },
);

describe.skipIf(!pgAvailable)('postgres key store', () => {
  const shared = freshSchema('keys');
  schemas.push(shared);
  describeSubjectKeyStoreConformance(
    'postgres',
    { create: () => createPostgresKeyStore({ connectionString: PG_URL, schema: shared.schema }), shared: true },
    { describe, it, beforeAll, afterAll },
  );

  it('keeps the personal value out of the events table, and forget redacts it for a reader in another pool', async () => {
    const fresh = freshSchema('shred');
    schemas.push(fresh);
    const open = () => {
      const raw = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
      const keys = createPostgresKeyStore({ connectionString: PG_URL, schema: fresh.schema });
      return { raw, keys, store: withCryptoShredding(raw, { events: [Registered], keys }) };
    };
    const [writer, reader] = [open(), open()];
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const email = 'katherine.johnson.shred@example.com';
      await writer.store.append('customer-k1', [
        { type: 'CustomerRegistered', data: { customerId: 'k1', name: 'Katherine Johnson', email } },
      ]);
      await writer.store.append('customer-k2', [
        { type: 'CustomerRegistered', data: { customerId: 'k2', name: 'Dorothy Vaughan', email } },
      ]);
      const count = async () =>
        Number(
          (
            await client.query(
              `SELECT count(*) FROM "${fresh.schema}".events WHERE data::text LIKE $1 OR metadata::text LIKE $1`,
              [`%${email}%`],
            )
          ).rows[0].count,
        );
      const before = await count();
      expect(before).toBe(0);
      expect((await reader.store.readStream('customer-k1'))[0].data).toMatchObject({ email });
      expect(await writer.store.forget('k1')).toBe(true);
      const after = await count();
      expect(after).toBe(0);
      // The other reader's cache may hold k1's key for its ttlMs; a fresh reader (a new process) sees the forget at once.
      const late = open();
      expect((await late.store.readStream('customer-k1'))[0].data).toMatchObject({ name: FORGOTTEN, email: FORGOTTEN });
      expect((await late.store.readStream('customer-k2'))[0].data).toMatchObject({ email });
      const keyRows = await client.query(`SELECT subject FROM "${fresh.schema}".subject_keys ORDER BY subject`);
      expect(keyRows.rows.map((r) => r.subject)).toEqual(['k2']);
      console.log(JSON.stringify({ shredding: 'postgres', eventsRowsWithValueBeforeForget: before, afterForget: after }));
      await Promise.all([late.keys.close(), late.raw.close()]);
    } finally {
      await client.end();
      await Promise.all([writer, reader].flatMap((o) => [o.keys.close(), o.raw.close()]));
    }
  });
});
