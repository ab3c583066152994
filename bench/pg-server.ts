// The PostgreSQL server as the benchmarks see it: fresh schemas (dropped after), connection strings tagged with an
// application_name per workload, and the CPU the server's backends spend on a workload (client and server share the
// cores, so a line's server CPU says whether the client or the server was the busy side).
// (With pg-baseline.ts, the only files outside src/postgres that import the driver: benchmark tooling, not library code.)
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { CpuProbe } from './harness.js';
import { CLOCK_TICKS, processTicks } from './process-cpu.js';

/** The server to measure; the test database by default (STACK.md: PostgreSQL 15 on localhost, trust auth). */
export const PG_URL = process.env.CHRONICLE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A connection to the server for the bench's own bookkeeping (schemas, pg_stat_activity), never measured. */
export type Admin = {
  /** A new schema name, remembered so `close()` drops it (the stores create their schemas themselves). */
  freshSchema(role: string): string;
  /** `PG_URL` with an application_name of its own, so `backendCpu(url)` finds every connection opened with it. */
  url(tag: string): string;
  /** CPU of the backends connected through `url` (one from `url()`); undefined when the server is on another machine. */
  backendCpu(url: string): CpuProbe;
  query: pg.Client['query'];
  /** Drops every schema handed out, then disconnects. */
  close(): Promise<void>;
};

const run = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
let tags = 0;

export async function openAdmin(): Promise<Admin> {
  const client = new pg.Client({ connectionString: PG_URL, application_name: 'chronicle-bench-admin' });
  await client.connect();
  const schemas: string[] = [];
  const local = ['localhost', '127.0.0.1', '::1', ''].includes(new URL(PG_URL).hostname);
  return {
    freshSchema(role) {
      const name = `bench_${run}_${schemas.length + 1}_${role}`;
      schemas.push(name);
      return name;
    },
    url(tag) {
      const url = new URL(PG_URL);
      url.searchParams.set('application_name', `chronicle-bench-${run}-${tag}-${++tags}`.slice(0, 63));
      return url.toString();
    },
    backendCpu(tagged) {
      const name = new URL(tagged).searchParams.get('application_name');
      let before = new Map<number, number>();
      const sample = async () => {
        const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
          name,
        ]);
        const ticks = new Map<number, number>();
        for (const { pid } of rows) {
          const t = processTicks(pid);
          if (t !== undefined) ticks.set(pid, t);
        }
        return ticks;
      };
      return {
        async start() {
          before = local ? await sample() : new Map();
        },
        async seconds() {
          if (!local) return undefined;
          let ticks = 0;
          // A backend that connected during the run started at zero; one that disconnected is lost (pools keep theirs).
          for (const [pid, t] of await sample()) ticks += t - (before.get(pid) ?? 0);
          return +(ticks / CLOCK_TICKS).toFixed(3);
        },
      };
    },
    query: client.query.bind(client) as pg.Client['query'],
    async close() {
      try {
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
