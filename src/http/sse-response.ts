// Server-sent-event responses over hijacked replies: their headers, a write that drops a client which stops reading,
// and the set of open ones a closing server ends (close() would otherwise wait forever on streams that never finish).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** One open stream: its raw response, and a write bounded by the buffer limit. */
export type SseResponse = { raw: ServerResponse; send(chunk: string): void };

/** The streams of `scope`: `open(reply)` hijacks the reply and starts one. */
export function sseResponses(scope: FastifyInstance, maxBufferedBytes: number): { open(reply: FastifyReply): SseResponse } {
  const open = new Set<ServerResponse>();
  scope.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });
  return {
    open(reply) {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        // Hijacked: headers hooks set on the reply (the correlation id, CORS, security headers) are not sent by themselves.
        ...(reply.getHeaders() as OutgoingHttpHeaders),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      open.add(raw);
      raw.on('close', () => open.delete(raw));
      return {
        raw,
        send(chunk) {
          if (raw.writableEnded || raw.destroyed) return;
          raw.write(chunk);
          // A client that stops reading must not make the server buffer without bound.
          if (raw.writableLength > maxBufferedBytes) raw.destroy();
        },
      };
    },
  };
}
