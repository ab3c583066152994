// The read-only pages: overview, streams, a stream, an event, projections.
import { ChronicleError, type ProjectionStatus } from 'chronicle-es';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleDeps } from './console-deps.js';
import type { Guard } from './guard.js';
import { eventPage } from './pages/event.js';
import { overviewPage } from './pages/overview.js';
import { progressFragment, projectionPage, projectionsPage } from './pages/projections.js';
import { streamPage } from './pages/stream.js';
import { streamsPage } from './pages/streams.js';
import { sendHtml } from './respond.js';

const STREAMS_PER_PAGE = 50;
const EVENTS_PER_PAGE = 20;

/** A query-string parameter as one string; empty or absent is undefined. @throws INVALID_ARGUMENT repeated */
export function param(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown>)[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new ChronicleError('INVALID_ARGUMENT', `${name} must be given once`);
  return value;
}

/** The status of one projection. @throws NOT_FOUND */
export async function statusOf(deps: ConsoleDeps, name: string): Promise<ProjectionStatus> {
  const found = (await deps.projector?.status())?.find((s) => s.name === name);
  if (!found) throw new ChronicleError('NOT_FOUND', `no projection named ${JSON.stringify(name)}`);
  return found;
}

/** Registers the read-only pages. */
export function registerPageRoutes(scope: FastifyInstance, deps: ConsoleDeps, guard: Guard): void {
  scope.get('/', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    return sendHtml(reply, overviewPage(ctx, deps, await deps.overview()));
  });

  scope.get('/streams', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    const query = { category: param(request, 'category'), prefix: param(request, 'prefix'), after: param(request, 'after') };
    const [categories, list] = await Promise.all([
      deps.categories(),
      deps.inspector.listStreams({ ...query, limit: STREAMS_PER_PAGE }),
    ]);
    return sendHtml(reply, streamsPage(ctx, categories, query, list));
  });

  scope.get<{ Params: { id: string } }>('/streams/:id', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    const before = param(request, 'before');
    if (before !== undefined && !/^[1-9]\d{0,15}$/.test(before)) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `before must be a version (a positive integer), got ${JSON.stringify(before)}`,
      );
    }
    const id = request.params.id;
    const info = await deps.eventStore.streamInfo(id);
    if (info.version === 0) throw new ChronicleError('NOT_FOUND', `no stream ${JSON.stringify(id)} in this store`);
    const events = await deps.inspector.readStreamBackward(id, {
      limit: EVENTS_PER_PAGE,
      ...(before !== undefined && { before: Number(before) }),
    });
    return sendHtml(reply, streamPage(ctx, info, events, before !== undefined));
  });

  scope.get<{ Params: { id: string } }>('/events/:id', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    const related = await deps.inspector.related(request.params.id);
    if (!related) throw new ChronicleError('NOT_FOUND', `no event with id ${JSON.stringify(request.params.id)}`);
    return sendHtml(reply, eventPage(ctx, related));
  });

  scope.get('/projections', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    return sendHtml(reply, projectionsPage(ctx, deps, (await deps.projector?.status()) ?? []));
  });

  scope.get<{ Params: { name: string } }>('/projections/:name', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    const done = param(request, 'done');
    const notice = done === undefined ? undefined : `${done.slice(0, 20)} requested.`;
    return sendHtml(reply, projectionPage(ctx, deps, await statusOf(deps, request.params.name), notice));
  });

  scope.get<{ Params: { name: string } }>('/projections/:name/progress', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    return sendHtml(reply, progressFragment(ctx, deps, await statusOf(deps, request.params.name)));
  });
}
