// The package as a user gets it: `npm pack`, the tarball installed into a fresh project with only what a user adds,
// every entry run there with plain node, and a strict consumer type-checked against the published declarations.
// Nothing here skips: a missing tool, package or file fails the suite.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATS_URL } from '../support/nats.js';
import { type FreshSchema, freshSchema } from '../support/postgres.js';
import { REDIS_URL } from '../support/redis.js';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const consumerSources = join(import.meta.dirname, 'consumer');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

type Target = { 'chronicle-source': string; types: string; default: string };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | Target> };
const entries = Object.entries(pkg.exports).filter((e): e is [string, Target] => typeof e[1] === 'object');
const specifier = (subpath: string) => (subpath === '.' ? 'chronicle-es' : `chronicle-es/${subpath.slice(2)}`);
// The exact versions we test with: installs hit the warm npm cache, and better-sqlite3's binary matches (below).
const versionOf = (name: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

// Settles without rejecting, so work started in beforeAll and awaited by a later test never goes unhandled.
type Outcome = { ok: true; stdout: string } | { ok: false; error: Error & { stdout?: string; stderr?: string } };
const settle = (p: Promise<{ stdout: string }>): Promise<Outcome> =>
  p.then(
    ({ stdout }) => ({ ok: true, stdout }),
    (error) => ({ ok: false, error }),
  );
function stdoutOf(outcome: Outcome): string {
  if (!outcome.ok) throw new Error(`${outcome.error.message}\n${outcome.error.stdout ?? ''}\n${outcome.error.stderr ?? ''}`);
  return outcome.stdout;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

let work: string;
let project: string;
let packed: string[];
let smoke: Promise<Outcome>;
let typecheck: Promise<Outcome>;
let pgSchema: FreshSchema | undefined;
type Reply = { status: number; type: string; body: Record<string, unknown> };
type Seen = {
  resolved: Record<string, string>;
  exports: Record<string, string[]>;
  drivers: {
    coreAndTesting: string[];
    afterHttp: string[];
    afterSqlite: string[];
    afterPostgres: string[];
    afterNats: string[];
    afterRedis: string[];
  };
  jetStream: { relayed: number; projected: number; acked: number };
  postgres: { appended: { version: number; duplicate: boolean }; read: unknown[] };
  deciderSpecCatchesMismatch: boolean;
  http: Record<'command' | 'invalid' | 'query' | 'health' | 'metrics', Reply>;
  warnings: string[];
  metricsOptionWithoutPromClient: { code: string; message: string } | 'started';
  reread: { direct: unknown[]; counter: unknown[] };
  promClient: string;
};
// Tests that wait on the background smoke run or tsc get longer than the 30 s default: on a loaded machine tsc alone
// can take that long after beforeAll has finished.
const WAITS = { timeout: 120_000 };
const seen = async () =>
  JSON.parse(
    stdoutOf(await smoke)
      .trim()
      .split('\n')
      .pop() ?? '',
  ) as Seen;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'chronicle-pack-'));
  // Runs prepack (clean + build), exactly as `npm publish` would.
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path).sort();

  project = join(work, 'consumer');
  mkdirSync(project);
  const dependencies = {
    'chronicle-es': `file:${join(work, info.filename)}`,
    zod: versionOf('zod'),
    fastify: versionOf('fastify'),
    'better-sqlite3': versionOf('better-sqlite3'),
    pg: versionOf('pg'),
    '@nats-io/jetstream': versionOf('@nats-io/jetstream'),
    '@nats-io/kv': versionOf('@nats-io/kv'),
    '@nats-io/nats-core': versionOf('@nats-io/nats-core'),
    '@nats-io/transport-node': versionOf('@nats-io/transport-node'),
    ioredis: versionOf('ioredis'),
    // What a NestJS app already has (Nest and its own peers), for chronicle-es/nest; chronicle-es/fetch needs nothing.
    '@nestjs/common': versionOf('@nestjs/common'),
    '@nestjs/core': versionOf('@nestjs/core'),
    'reflect-metadata': versionOf('reflect-metadata'),
    rxjs: versionOf('rxjs'),
    // fastify's own declarations need Node's types; every TypeScript project on Node has them.
    '@types/node': versionOf('@types/node'),
  };
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }));
  // --ignore-scripts: better-sqlite3's install compiles SQLite from source (~65 s). We copy in the binary our own
  // install built instead: same better-sqlite3 version (pinned above), same node binary running both, so same ABI.
  await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: project,
  });
  const binary = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  mkdirSync(dirname(join(project, binary)), { recursive: true });
  cpSync(join(root, binary), join(project, binary));

  cpSync(join(import.meta.dirname, 'smoke.mjs'), join(project, 'smoke.mjs'));
  cpSync(consumerSources, join(project, 'typed'), { recursive: true });
  // Independent, and tsc is the slow one: start both now, each test awaits what it reads.
  pgSchema = freshSchema('pack');
  smoke = settle(
    exec(process.execPath, ['smoke.mjs'], {
      cwd: project,
      env: { ...process.env, PG_URL: pgSchema.connectionString, PG_SCHEMA: pgSchema.schema, NATS_URL, REDIS_URL },
    }),
  );
  typecheck = settle(
    exec(process.execPath, [tsc, '-p', 'typed/tsconfig.json', '--listFiles'], { cwd: project, maxBuffer: 16 * 1024 * 1024 }),
  );
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([smoke, typecheck]);
  await pgSchema?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds dist, the sources its maps point into, and the metadata — no tests, no fixtures', () => {
    const shapes = /^(?:package\.json|README\.md|LICENSE|dist\/.+\.(?:js|js\.map|d\.ts|d\.ts\.map)|src\/.+\.ts)$/;
    expect(packed.filter((path) => !shapes.test(path))).toEqual([]);
    expect(packed.filter((path) => /\.test\.|\.test-d\.|(?:^|\/)fixtures\//.test(path))).toEqual([]);
    expect(packed).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    // Every shipped source has its build, and every build its source: src/ ships exactly what the maps need.
    const sources = packed.filter((p) => p.startsWith('src/')).map((p) => p.slice('src/'.length, -'.ts'.length));
    const built = packed
      .filter((p) => p.startsWith('dist/') && p.endsWith('.js'))
      .map((p) => p.slice('dist/'.length, -'.js'.length));
    expect(sources).toEqual(built);
    for (const name of built) {
      expect(packed).toEqual(expect.arrayContaining([`dist/${name}.d.ts`, `dist/${name}.js.map`, `dist/${name}.d.ts.map`]));
    }
  });

  it('has every target of the export map', () => {
    expect(entries.map(([subpath]) => subpath)).toEqual([
      '.',
      './sqlite',
      './postgres',
      './nats',
      './redis',
      './http',
      './fetch',
      './nest',
      './testing',
    ]);
    for (const [, target] of entries) {
      for (const file of [target.default, target.types, target['chronicle-source']]) expect(packed).toContain(file.slice(2));
    }
  });

  it('has source maps whose sources are all installed', () => {
    const installed = join(project, 'node_modules/chronicle-es');
    const maps = filesUnder(join(installed, 'dist')).filter((f) => f.endsWith('.map'));
    expect(maps.length).toBe(packed.filter((p) => p.endsWith('.map')).length);
    const missing = maps.flatMap((map) => {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      return sources.map((s) => resolve(dirname(map), s)).filter((s) => !existsSync(s) || !s.startsWith(join(installed, 'src/')));
    });
    expect(missing).toEqual([]);
  });

  it("declares zod as a required peer and the drivers as optional peers; its own dependencies are the bin's and the console's", () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/chronicle-es/package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['cli-progress', 'commander', 'htmx.org']);
    expect(manifest.bin).toEqual({ chronicle: './dist/cli/main.js' });
    const drivers = [
      '@nats-io/jetstream',
      '@nats-io/kv',
      '@nats-io/nats-core',
      '@nestjs/common',
      '@nestjs/core',
      '@opentelemetry/api',
      'better-sqlite3',
      'fastify',
      'ioredis',
      'pg',
      'pino',
      'prom-client',
    ];
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual([...drivers, 'zod']);
    expect(manifest.peerDependenciesMeta.zod?.optional).not.toBe(true);
    for (const driver of drivers) expect(manifest.peerDependenciesMeta[driver].optional).toBe(true);
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(project, 'node_modules/chronicle-es/LICENSE'), 'utf8')).toContain(
      'Copyright (c) 2026 the Chronicle authors',
    );
  });
});

describe('a consumer running plain node', () => {
  it('installed what a user installs, and not prom-client or @types/better-sqlite3', WAITS, async () => {
    expect((await seen()).promClient).toBe('ERR_MODULE_NOT_FOUND');
    expect(existsSync(join(project, 'node_modules/prom-client'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/@types/better-sqlite3'))).toBe(false);
  });

  it('resolves every entry to dist and gets named exports only', WAITS, async () => {
    const { resolved, exports } = await seen();
    for (const [subpath, target] of entries) {
      const name = specifier(subpath);
      expect(relative(join(project, 'node_modules/chronicle-es'), new URL(resolved[name]).pathname)).toBe(
        target.default.slice(2),
      );
      expect(exports[name].length).toBeGreaterThan(0);
      expect(exports[name]).not.toContain('default');
    }
    expect(exports['chronicle-es']).toEqual(expect.arrayContaining(['defineCommand', 'createCommandBus', 'createProjector']));
    expect(exports['chronicle-es/sqlite']).toEqual(expect.arrayContaining(['createSqliteEventStore', 'createSqliteReadStore']));
    expect(exports['chronicle-es/postgres']).toEqual(expect.arrayContaining(['createPostgresEventStore']));
    expect(exports['chronicle-es/nats']).toEqual(expect.arrayContaining(['createJetStreamRelay', 'createJetStreamSource']));
    expect(exports['chronicle-es/redis']).toEqual(expect.arrayContaining(['createRedisReadStore']));
    expect(exports['chronicle-es/http']).toEqual(expect.arrayContaining(['createServer', 'chronicleHttp', 'projectionMetrics']));
    expect(exports['chronicle-es/testing']).toEqual(expect.arrayContaining(['describeEventStoreConformance', 'deciderSpec']));
    expect(exports['chronicle-es/fetch']).toEqual(expect.arrayContaining(['createFetchHandler', 'createApiKeyAuthenticator']));
    expect(exports['chronicle-es/nest']).toEqual(expect.arrayContaining(['ChronicleModule', 'CommandHandler', 'COMMAND_BUS']));
  });

  it('loads each driver only through its own entry', WAITS, async () => {
    const { drivers } = await seen();
    expect(drivers.coreAndTesting).toEqual([]);
    expect(drivers.afterHttp).toEqual(['fastify']);
    expect(drivers.afterSqlite).toEqual(['better-sqlite3', 'fastify']);
    expect(drivers.afterPostgres).toEqual(['better-sqlite3', 'pg', 'fastify']);
    expect(drivers.afterNats).toEqual(['better-sqlite3', 'pg', 'fastify', '@nats-io']);
    expect(drivers.afterRedis).toEqual(['better-sqlite3', 'pg', 'fastify', '@nats-io', 'ioredis']);
  });

  it(
    'relays events into JetStream and projects them from there into Redis through chronicle-es/nats and chronicle-es/redis',
    WAITS,
    async () => {
      const { jetStream } = await seen();
      expect(jetStream).toEqual({ relayed: 3, projected: 6, acked: 3 });
    },
  );

  it(
    'appends to and reads from PostgreSQL through chronicle-es/postgres, with the pg the consumer installed',
    WAITS,
    async () => {
      const { postgres } = await seen();
      expect(postgres).toEqual({
        appended: { version: 1, duplicate: false },
        read: [{ type: 'Noted', data: { n: 1 }, version: 1 }],
      });
    },
  );

  it(
    'stores events in a SQLite file through the buses and the HTTP server, and reads them back after reopening',
    WAITS,
    async () => {
      const { http, reread, deciderSpecCatchesMismatch } = await seen();
      expect(http.command).toMatchObject({ status: 200, body: { streamId: 'counter-c1', version: 1 } });
      expect(http.invalid).toMatchObject({ status: 400, type: expect.stringContaining('application/problem+json') });
      expect(http.invalid.body.code).toBe('VALIDATION_FAILED');
      expect(http.query).toEqual({ status: 200, type: expect.stringContaining('application/json'), body: { count: 5 } });
      expect(http.health.status).toBe(200);
      expect(reread.direct).toEqual([{ type: 'Noted', data: { n: 1 }, version: 1 }]);
      expect(reread.counter).toEqual([{ type: 'Incremented', data: { by: 5 } }]);
      expect(deciderSpecCatchesMismatch).toBe(true);
    },
  );

  it(
    'without prom-client: /metrics answers 501 with a hint, a warning is logged, and configured metrics fail at startup',
    WAITS,
    async () => {
      const { http, warnings, metricsOptionWithoutPromClient } = await seen();
      expect(http.metrics).toMatchObject({
        status: 501,
        type: expect.stringContaining('application/problem+json'),
        body: { code: 'NOT_IMPLEMENTED', detail: 'install prom-client to enable /metrics' },
      });
      expect(warnings).toEqual([expect.stringContaining('prom-client is not installed')]);
      expect(metricsOptionWithoutPromClient).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('prom-client'),
      });
    },
  );
});

describe('a strict TypeScript consumer (skipLibCheck false, NodeNext)', () => {
  it(`type-checks every .ts file in ${relative(root, consumerSources)} against the published declarations`, WAITS, async () => {
    const outcome = await typecheck;
    const output = outcome.ok ? outcome.stdout : `${outcome.error.stdout ?? ''}${outcome.error.stderr ?? ''}`;
    expect(output.split('\n').filter((line) => line.includes('error TS'))).toEqual([]);
    expect(outcome.ok).toBe(true);
    const program = output.split('\n').filter(Boolean);
    const ours = filesUnder(consumerSources).filter((f) => f.endsWith('.ts'));
    expect(ours.length).toBeGreaterThanOrEqual(2);
    for (const file of ours) expect(program).toContain(join(project, 'typed', relative(consumerSources, file)));
    const fromPackage = program.filter((f) => f.includes('/node_modules/chronicle-es/'));
    expect(fromPackage.length).toBeGreaterThan(0);
    expect(fromPackage.filter((f) => !/\/node_modules\/chronicle-es\/dist\/.+\.d\.ts$/.test(f))).toEqual([]);
  });
});

describe('the chronicle bin, installed from the tarball', () => {
  const bin = () => join(project, 'node_modules/.bin/chronicle');

  it('prints its help and exits 0', async () => {
    const { stdout } = await exec(bin(), ['--help'], { cwd: project });
    expect(stdout).toContain('Usage: chronicle [options] [command]');
    expect(stdout).toContain('projections');
    const { stdout: rebuild } = await exec(bin(), ['projections', 'rebuild', '--help'], { cwd: project });
    expect(rebuild).toContain('Usage: chronicle projections rebuild [options] <name>');
  });

  it('exports and imports a SQLite log, and fails with one line on a missing store', async () => {
    const failed = await exec(bin(), ['--store', 'missing.db', 'export'], { cwd: project }).catch((err) => err);
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split('\n')).toEqual([expect.stringContaining('no event store at missing.db')]);
    expect(existsSync(join(project, 'missing.db'))).toBe(false);
    const seed = `
      import { createSqliteEventStore } from 'chronicle-es/sqlite';
      const s = createSqliteEventStore({ path: 'bin-source.db' });
      for (let i = 0; i < 30; i++) await s.append('note-' + (i % 4), [{ type: 'Noted', data: { i } }]);
      await s.close();`;
    await exec(process.execPath, ['--input-type=module', '-e', seed], { cwd: project });
    await exec(bin(), ['--store', 'bin-source.db', 'export', 'bin.ndjson'], { cwd: project });
    const { stdout } = await exec(bin(), ['--store', 'bin-target.db', '--json', 'import', 'bin.ndjson'], { cwd: project });
    expect(JSON.parse(stdout)).toMatchObject({ events: 30, written: 30, streams: 4, positionsKept: true });
  });
});

describe('from source (the chronicle-source condition)', () => {
  it('chronicle-es and chronicle-es/testing load no driver', async () => {
    const code = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      await import('chronicle-es');
      await import('chronicle-es/testing');
      const drivers = ['better-sqlite3', 'pg', 'fastify', 'prom-client', '@nats-io', 'ioredis'];
      console.log(JSON.stringify(drivers.filter((d) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + d + '/')))));`;
    const args = ['--conditions=chronicle-source', '--import', 'tsx', '--input-type=module', '-e', code];
    const { stdout } = await exec(process.execPath, args, { cwd: root });
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '')).toEqual([]);
  });
});
