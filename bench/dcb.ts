// The dynamic-consistency-boundary workloads of issue 8, each beside its stream-based equivalent on the same kind of
// store in the same run, measured in alternating rounds (`--rounds N`, default 3; 2 with `--quick`):
// - conditional appends vs stream appends: 64 in flight, one event each on a random one of 1,000 products, guarded
//   by the position (or version) last seen for that product; conflicts are counted, never retried inside the op;
// - CreateOrder with 3 products through the decision handler vs through the multi-stream handler (order + customer +
//   3 product streams, appendMany at the versions read), over a small product/order model written here.
// Store-agnostic: run.ts passes SQLite stores, postgres.ts PostgreSQL ones. To profile one side alone:
// `--no-baselines` runs only the DCB sides, `--only-baselines` only their stream-based equivalents.
import {
  createDecisionHandler,
  createMultiStreamHandler,
  type DecisionModel,
  domainError,
  type EventStore,
  isChronicleError,
  type NewEvent,
  Query,
  type RecordedEvent,
  type StreamEvents,
  type StreamSpec,
  type TaggedEvent,
} from 'chronicle-es';
import { alternate, type CpuProbe, quick, type Side, scaled, selected, warmUp } from './harness.js';
import { event } from './payload.js';

/** A store opened for one side of a comparison. */
export type BenchStore = {
  store: EventStore;
  serverCpu?: CpuProbe;
  /** Group commit so far: groups sent and the appends they carried. */
  groups(): { groups: number; appends: number };
  close(): Promise<void>;
};

/** How the DCB lines get their stores: one kind (SQLite or PostgreSQL), a fresh store per side. */
export type BenchStores = {
  /** Prefix of the line names: `sqlite` or `pg`. */
  kind: 'sqlite' | 'pg';
  sync: string;
  /** Said on every line, e.g. the pool size. */
  note?: string;
  /**
   * A fresh store for `role` (a file, or a schema named after it). Roles are kept short: PostgreSQL keeps 63 bytes of a
   * prepared statement's name, and the store's names carry the schema's.
   */
  open(role: string): Promise<BenchStore>;
  /** Operations per round of each workload (before `--quick` scales them). */
  appendOps: number;
  orderOps: number;
};

const PRODUCTS = 1000;
const CUSTOMERS = 200;
const IN_FLIGHT = 64;
const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = roundsAt === -1 ? (quick ? 2 : 3) : Number(process.argv[roundsAt + 1]);
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds takes a positive integer');
const withBaselines = !process.argv.includes('--no-baselines');
const withSubjects = !process.argv.includes('--only-baselines');
// The DCB side with the target: its rate over its equivalent's.
const compare = (base: Side | undefined, subject: Side | undefined, targetRatio: number) => {
  if (subject) subject.options.targetRatio = targetRatio;
  return alternate(ROUNDS, withBaselines ? base : undefined, withSubjects ? subject : undefined);
};

// mulberry32: the same "random" products on both sides and in every run, so the two see the same collisions.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const productStream = (p: number | string) => `product-${p}`;
const productTag = (p: number) => `product:${p}`;

/** Runs the DCB lines `--only` selects on one kind of store. */
export async function runDcbBench(stores: BenchStores): Promise<void> {
  const appendLine = `${stores.kind}-conditional-append-64-in-flight-1000-products`;
  const appendBase = `${stores.kind}-stream-append-64-in-flight-1000-products`;
  if (selected(appendLine) || selected(appendBase)) await conditionalAppends(stores, appendBase, appendLine);
  const prefix = stores.kind === 'sqlite' ? '' : 'pg-';
  const orderLine = `${prefix}create-order-3-products-decision`;
  const orderBase = `${prefix}create-order-3-products-multi-stream`;
  if (selected(orderLine) || selected(orderBase)) await createOrders(stores, orderBase, orderLine);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Conditional appends vs stream appends with expected versions

// One side's counts for the round being measured, set up before it starts.
type AppendRound = { committed: number; conflicts: number; headBefore: number; groupsBefore: number };

async function conditionalAppends(stores: BenchStores, baseName: string, name: string): Promise<void> {
  const ops = scaled(stores.appendOps);
  const next = random(8);
  const products = Uint16Array.from({ length: ops * ROUNDS }, () => Math.floor(next() * PRODUCTS));
  const streams = await stores.open('dcb_s');
  const tagged = await stores.open('dcb_c');
  try {
    // One event per product first, so every append has a product history to be checked against: what a decision
    // last saw of each product, kept up to date from the results as a decision's cache would be.
    const versions = new Float64Array(PRODUCTS);
    const heads = new Float64Array(PRODUCTS);
    for (let from = 0; from < PRODUCTS; from += 100) {
      const ids = Array.from({ length: 100 }, (_, k) => from + k);
      await streams.store.appendMany(ids.map((p) => ({ streamId: productStream(p), events: [event(p)] })));
      const results = await tagged.store.append(
        ids.map((p) => ({ ...event(p), streamId: productStream(p), tags: [productTag(p)] })),
      );
      ids.forEach((p, k) => {
        versions[p] = 1;
        heads[p] = results[k].position;
      });
    }
    await warmUp(IN_FLIGHT, (k) => streams.store.append(`warm-${k}`, [event(k)]));
    await warmUp(IN_FLIGHT, (k) =>
      tagged.store.append([{ ...event(k), streamId: `warm-${k}`, tags: [`warm:${k}`] }], {
        condition: { failIfEventsMatch: Query.tags(`warm:${k}`), after: 0 },
      }),
    );
    // The conditional side's successes as (product, after, position) triples, and per product the position of its
    // last event as the successes say: what the next success's `after` must be.
    let successes: number[] = [];
    const chain = Float64Array.from(heads);

    const side = (
      sideName: string,
      opened: BenchStore,
      what: string,
      append: (i: number, p: number) => Promise<void>,
      verify?: () => string,
    ): Side => {
      const c: AppendRound = { committed: 0, conflicts: 0, headBefore: 0, groupsBefore: 0 };
      return {
        name: sideName,
        options: {
          ops,
          concurrency: IN_FLIGHT,
          eventsPerOp: 1,
          unit: 'ops/s',
          sync: stores.sync,
          serverCpu: opened.serverCpu,
          note: [what, stores.note].filter(Boolean).join('; '),
          check: async () => {
            const { events } = await opened.store.read(Query.all(), { from: c.headBefore + 1 });
            if (events.length !== c.committed) {
              throw new Error(`${sideName}: ${c.committed} appends committed, ${events.length} events written`);
            }
            const groups = opened.groups().groups - c.groupsBefore;
            return [
              `${c.committed} committed, ${c.conflicts} conflicts (${((100 * c.conflicts) / ops).toFixed(1)}%, not retried)`,
              `${(ops / Math.max(1, groups)).toFixed(1)} appends per group`,
              verify?.(),
            ]
              .filter(Boolean)
              .join(', ');
          },
        },
        async before() {
          c.committed = 0;
          c.conflicts = 0;
          c.headBefore = await opened.store.headPosition();
          c.groupsBefore = opened.groups().groups;
        },
        async op(i, round) {
          try {
            await append(i, products[round * ops + i]);
            c.committed++;
          } catch (err) {
            if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
            c.conflicts++;
          }
        },
      };
    };

    const base = side(
      baseName,
      streams,
      'one event per append on a random product stream, expectedVersion = the version last seen for it',
      async (i, p) => {
        const r = await streams.store.append(productStream(p), [event(i)], { expectedVersion: versions[p] });
        if (r.version > versions[p]) versions[p] = r.version;
      },
    );
    const subject = side(
      name,
      tagged,
      'one event per append on a random product stream, tagged product:<p>, condition { failIfEventsMatch: Query.tags(product:<p>), after: the position last seen for it }',
      async (i, p) => {
        const tag = productTag(p);
        const after = heads[p];
        const appended: TaggedEvent = { ...event(i), streamId: productStream(p), tags: [tag] };
        const [r] = await tagged.store.append([appended], { condition: { failIfEventsMatch: Query.tags(tag), after } });
        if (r.position > heads[p]) heads[p] = r.position;
        successes.push(p, after, r.position);
      },
      () => {
        const broken = checkChain(successes, chain);
        successes = [];
        if (broken > 0) throw new Error(`${name}: ${broken} conditional appends committed over an event they did not see`);
        return 'each commit checked to follow the event its condition named';
      },
    );
    await compare(base, subject, 0.7);
  } finally {
    await streams.close();
    await tagged.close();
  }
}

// Counts the successes whose `after` is not the position of their product's previous event in the log: an exact
// condition lets none through (a later event of the product between them would have matched the query).
function checkChain(successes: readonly number[], chain: Float64Array): number {
  const order = Array.from({ length: successes.length / 3 }, (_, k) => k).sort(
    (a, b) => successes[3 * a + 2] - successes[3 * b + 2],
  );
  let broken = 0;
  for (const k of order) {
    const [p, after, position] = [successes[3 * k], successes[3 * k + 1], successes[3 * k + 2]];
    if (after !== chain[p]) broken++;
    chain[p] = position;
  }
  return broken;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. CreateOrder with 3 products: decision handler vs multi-stream handler

type Line = { productId: string; quantity: number };
type CreateOrder = { type: 'CreateOrder'; data: { orderId: string; customerId: number; lines: Line[] } };
type ProductState = { exists: boolean; available: number };
type CustomerState = { registered: boolean };
type OrderState = { placed: boolean };

const STOCK = 1_000_000_000;
const orderStream = (orderId: string) => `order-${orderId}`;
const customerStream = (c: number) => `customer-${c}`;

// One evolve per model, defined once: the handlers' caches know a model by it.
const product = {
  initialState: { exists: false, available: 0 } as ProductState,
  evolve(state: ProductState, e: RecordedEvent): ProductState {
    if (e.type === 'ProductAdded') return { exists: true, available: (e.data as { stock: number }).stock };
    if (e.type === 'StockReserved') return { ...state, available: state.available - (e.data as { quantity: number }).quantity };
    return state;
  },
};
const customer = {
  initialState: { registered: false } as CustomerState,
  evolve: (state: CustomerState, e: RecordedEvent): CustomerState =>
    e.type === 'CustomerRegistered' ? { registered: true } : state,
};
const order = {
  initialState: { placed: false } as OrderState,
  evolve: (state: OrderState, e: RecordedEvent): OrderState => (e.type === 'OrderCreated' ? { placed: true } : state),
};

// The rule, shared by both wirings: the order is new, the customer registered, every product has the units.
function placeOrder(
  command: CreateOrder,
  state: { order: OrderState; customer: CustomerState; products: ReadonlyMap<string, ProductState> },
): TaggedEvent[] {
  const { orderId, customerId, lines } = command.data;
  if (state.order.placed) throw domainError(`order ${orderId} exists`);
  if (!state.customer.registered) throw domainError(`customer ${customerId} is not registered`);
  const events: TaggedEvent[] = [{ streamId: orderStream(orderId), type: 'OrderCreated', data: command.data }];
  for (const { productId, quantity } of lines) {
    const s = state.products.get(productId);
    if (!s?.exists || s.available < quantity) throw domainError(`product ${productId} lacks ${quantity} units`);
    events.push({ streamId: productStream(productId), type: 'StockReserved', data: { productId, orderId, quantity } });
  }
  return events;
}

// Both handlers keep every product and customer folded (1,200 models), so neither loses reads to evictions.
const CACHE = 2000;
const RETRIES = 10;

function decisionWiring(store: EventStore) {
  const model = <S>(streamId: string, m: { initialState: S; evolve(s: S, e: RecordedEvent): S }): DecisionModel<S> => ({
    query: Query.tags(streamId),
    initialState: m.initialState,
    evolve: m.evolve,
  });
  return createDecisionHandler({
    store,
    models: (c: CreateOrder) => ({
      order: model(orderStream(c.data.orderId), order),
      customer: model(customerStream(c.data.customerId), customer),
      products: new Map(c.data.lines.map((l) => [l.productId, model(productStream(l.productId), product)])),
    }),
    decide: (c, states) => placeOrder(c, states),
    maxRetries: RETRIES,
    cacheSize: CACHE,
  });
}

function multiStreamWiring(store: EventStore) {
  const spec = <S>(streamId: string, model: StreamSpec<S>['model']): StreamSpec<S> => ({ streamId, model });
  return createMultiStreamHandler({
    store,
    streams: (c: CreateOrder) => ({
      order: spec(orderStream(c.data.orderId), order),
      customer: spec(customerStream(c.data.customerId), customer),
      products: new Map(c.data.lines.map((l) => [l.productId, spec(productStream(l.productId), product)])),
    }),
    decide: (c, states): StreamEvents =>
      placeOrder(c, states).map(({ streamId, ...e }): { streamId: string; events: NewEvent[] } => ({ streamId, events: [e] })),
    maxRetries: RETRIES,
    cacheSize: CACHE,
  });
}

// Counts the conflicts the handler met (and retried) by watching the store's appends.
function conflictCounting(store: EventStore, count: { conflicts: number }): EventStore {
  const seen = (err: unknown) => {
    if (isChronicleError(err, 'CONCURRENCY_CONFLICT')) count.conflicts++;
    throw err;
  };
  const wrapped = Object.create(store) as EventStore;
  const append = store.append as (...args: unknown[]) => Promise<unknown>;
  wrapped.append = ((...args: unknown[]) => append.apply(store, args).catch(seen)) as unknown as EventStore['append'];
  wrapped.appendMany = (...args) => store.appendMany(...args).catch(seen);
  return wrapped;
}

async function seedShop(store: EventStore): Promise<void> {
  for (let from = 0; from < PRODUCTS; from += 100) {
    await store.appendMany(
      Array.from({ length: 100 }, (_, k) => ({
        streamId: productStream(from + k),
        events: [{ type: 'ProductAdded', data: { productId: String(from + k), stock: STOCK } }],
      })),
    );
  }
  await store.appendMany(
    Array.from({ length: CUSTOMERS }, (_, c) => ({
      streamId: customerStream(c),
      events: [{ type: 'CustomerRegistered', data: { customerId: c } }],
    })),
  );
}

async function createOrders(stores: BenchStores, baseName: string, name: string): Promise<void> {
  const ops = scaled(stores.orderOps);
  const next = random(3);
  // Each order: a customer and three distinct products, the same on both sides.
  const commands: CreateOrder[][] = Array.from({ length: ROUNDS }, (_, round) =>
    Array.from({ length: ops }, (_, i) => {
      const picked = new Set<number>();
      while (picked.size < 3) picked.add(Math.floor(next() * PRODUCTS));
      return {
        type: 'CreateOrder',
        data: {
          orderId: `${round}-${i}`,
          customerId: Math.floor(next() * CUSTOMERS),
          lines: [...picked].map((p) => ({ productId: String(p), quantity: 1 })),
        },
      };
    }),
  );
  // Before the clock: orders over every product and customer, so each handler's cache holds them all.
  const warmOrders: CreateOrder[] = Array.from({ length: Math.ceil(PRODUCTS / 3) }, (_, k) => ({
    type: 'CreateOrder',
    data: {
      orderId: `warm-${k}`,
      customerId: k % CUSTOMERS,
      lines: [0, 1, 2].map((j) => ({ productId: String((3 * k + j) % PRODUCTS), quantity: 1 })),
    },
  }));
  const multi = await stores.open('dcb_m');
  const decision = await stores.open('dcb_d');
  try {
    const side = async (
      sideName: string,
      opened: BenchStore,
      wiring: (store: EventStore) => (c: CreateOrder, context: object) => Promise<unknown>,
      what: string,
    ): Promise<Side> => {
      const c = { placed: 0, gaveUp: 0, conflicts: 0, headBefore: 0 };
      const handle = wiring(conflictCounting(opened.store, c));
      await seedShop(opened.store);
      for (let k = 0; k < warmOrders.length; k += IN_FLIGHT) {
        await Promise.all(warmOrders.slice(k, k + IN_FLIGHT).map((o) => handle(o, {})));
      }
      return {
        name: sideName,
        options: {
          ops,
          concurrency: IN_FLIGHT,
          eventsPerOp: 4,
          unit: 'ops/s',
          sync: stores.sync,
          serverCpu: opened.serverCpu,
          note: [what, stores.note].filter(Boolean).join('; '),
          check: async () => {
            const { events } = await opened.store.read([{ types: ['OrderCreated', 'StockReserved'] }], {
              from: c.headBefore + 1,
            });
            const orders = events.filter((e) => e.type === 'OrderCreated').length;
            if (orders !== c.placed || events.length !== 4 * c.placed) {
              throw new Error(
                `${sideName}: ${c.placed} orders placed, the log holds ${orders} orders and ${events.length} events`,
              );
            }
            return `${c.placed} orders placed and found in the log, ${c.conflicts} conflicts retried, ${c.gaveUp} gave up after ${RETRIES} retries`;
          },
        },
        async before() {
          c.placed = 0;
          c.gaveUp = 0;
          c.conflicts = 0;
          c.headBefore = await opened.store.headPosition();
        },
        async op(i, round) {
          try {
            await handle(commands[round][i], {});
            c.placed++;
          } catch (err) {
            if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
            c.gaveUp++;
          }
        },
      };
    };
    const base = withBaselines
      ? await side(
          baseName,
          multi,
          multiStreamWiring,
          'createMultiStreamHandler: order + customer + 3 product streams read, appendMany at the 5 versions read',
        )
      : undefined;
    const subject = withSubjects
      ? await side(
          name,
          decision,
          decisionWiring,
          'createDecisionHandler: order, customer and 3 products read as queries on their stream tags, one conditional append',
        )
      : undefined;
    await compare(base, subject, 1.0);
  } finally {
    await multi.close();
    await decision.close();
  }
}
