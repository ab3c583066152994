// GET /live: the overview's live part as server-sent events — the fragment the page shows, rendered again every
// interval, for the console's script to swap in.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ConsoleDeps } from './console-deps.js';
import type { Guard } from './guard.js';
import { overviewFragment } from './pages/overview.js';

/** Registers the live stream; open streams end when the server closes. */
export function registerLive(scope: FastifyInstance, deps: ConsoleDeps, guard: Guard): void {
  const open = new Set<ServerResponse>();
  scope.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });

  scope.get('/live', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    open.add(raw);
    let busy = false;
    const tick = async () => {
      if (busy || raw.writableEnded) return;
      busy = true;
      try {
        const fragment = overviewFragment(ctx, deps, await deps.overview()).value;
        // One data line per line of markup: the client joins them back with newlines.
        raw.write(
          `event: overview\n${fragment
            .split('\n')
            .map((line) => `data: ${line}`)
            .join('\n')}\n\n`,
        );
      } catch (err) {
        request.log.warn({ err }, 'console live update failed');
        raw.write(': update failed\n\n');
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(tick, deps.liveIntervalMs);
    raw.on('close', () => {
      clearInterval(timer);
      open.delete(raw);
    });
    await tick();
  });
}
