// GET /live: the overview's live part as server-sent events — the fragment the page shows, rendered again every
// interval, for the console's script to swap in.
import type { FastifyInstance } from 'fastify';
import { sseResponses } from '../sse-response.js';
import type { ConsoleDeps } from './console-deps.js';
import type { Guard } from './guard.js';
import { overviewFragment } from './pages/overview.js';

// Fragments are a few kB each: a client this far behind has stopped reading.
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Registers the live stream; open streams end when the server closes. */
export function registerLive(scope: FastifyInstance, deps: ConsoleDeps, guard: Guard): void {
  const streams = sseResponses(scope, MAX_BUFFERED_BYTES);

  scope.get('/live', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    const { raw, send } = streams.open(reply);
    let busy = false;
    const tick = async () => {
      if (busy || raw.writableEnded) return;
      busy = true;
      try {
        const fragment = overviewFragment(ctx, deps, await deps.overview()).value;
        // One data line per line of markup: the client joins them back with newlines.
        send(
          `event: overview\n${fragment
            .split('\n')
            .map((line) => `data: ${line}`)
            .join('\n')}\n\n`,
        );
      } catch (err) {
        request.log.warn({ err }, 'console live update failed');
        send(': update failed\n\n');
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(tick, deps.liveIntervalMs);
    raw.on('close', () => clearInterval(timer));
    await tick();
  });
}
