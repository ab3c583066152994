// The floor for `bench:http`: bare Fastify doing a workload's SQL on better-sqlite3 with no Chronicle in between.
// `BARE_MODE=read`: GET /queries/GetOrderStatus reads the Shop's order row from its read-store file (BARE_DB) and
// answers the same JSON. `BARE_MODE=write`: POST /commands/CreateOrder validates the body with the same zod schema
// and does one INSERT + COMMIT per request at synchronous=FULL in WAL (BARE_DB is a fresh file).
// (Like raw-sqlite-baseline.ts, a benchmark baseline: the driver is imported here, not in library code.)

import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { CreateOrder } from '../examples/shop/messages/orders.js';

/** The bare app of one workload, not yet listening; `close()` also closes its database. */
export function createBareApp(mode: 'read' | 'write', path: string): FastifyInstance {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const app = Fastify();
  app.addHook('onClose', (_app, done) => {
    db.close();
    done();
  });
  app.get('/health', async () => ({ status: 'ok' }));
  if (mode === 'read') {
    // The active generation of the orders projection's table, resolved once (the Shop resolves it per query).
    const generation = db.prepare("SELECT generation FROM chronicle_projections WHERE name = 'orders'").pluck().get() as number;
    const select = db.prepare(
      `SELECT customer_id, customer_name, status, currency, total_cents, lines, history, timeline, payment_due_at FROM "orders__orders__g${generation}" WHERE order_id = ?`,
    );
    app.get<{ Querystring: { orderId?: string } }>('/queries/GetOrderStatus', async (request, reply) => {
      const { orderId } = request.query;
      const row = select.get(orderId) as
        | {
            customer_id: string;
            customer_name: string;
            status: string;
            currency: string;
            total_cents: number;
            lines: string;
            history: string;
            timeline: string;
            payment_due_at: string | null;
          }
        | undefined;
      if (!row) return reply.code(404).send({ error: 'not found' });
      return {
        orderId,
        customerId: row.customer_id,
        customerName: row.customer_name,
        status: row.status,
        lines: JSON.parse(row.lines),
        currency: row.currency,
        totalCents: row.total_cents,
        history: JSON.parse(row.history),
        timeline: JSON.parse(row.timeline),
        paymentDueAt: row.payment_due_at,
      };
    });
  } else {
    db.exec('CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, lines TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO orders (order_id, customer_id, lines) VALUES (?, ?, ?)');
    app.post('/commands/CreateOrder', async (request, reply) => {
      const parsed = CreateOrder.schema.safeParse(request.body);
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues });
      const { orderId, customerId, lines } = parsed.data;
      // Autocommit: one transaction, one durable COMMIT per request.
      const { lastInsertRowid } = insert.run(orderId, customerId, JSON.stringify(lines));
      return { ok: true, streamId: `order-${orderId}`, version: 1, position: Number(lastInsertRowid) };
    });
  }
  return app;
}

// Run as a script (bench:http starts it as a process of its own, as the Shop is).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const mode = process.env.BARE_MODE;
  const path = process.env.BARE_DB;
  const port = Number(process.env.PORT);
  if ((mode !== 'read' && mode !== 'write') || !path || !Number.isInteger(port)) {
    throw new Error('usage: BARE_MODE=read|write BARE_DB=<file> PORT=<port> bare-server.ts');
  }
  const app = createBareApp(mode, path);
  await app.listen({ port, host: '127.0.0.1' });
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
