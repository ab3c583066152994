// chronicle-es/http's routes inside a Nest app: each request handed to the fetch handler, so statuses, problem bodies,
// auth before the body, OpenAPI, SSE and minPosition are the ones the Fastify plugin and chronicle-es/fetch answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { ChronicleRuntime } from './chronicle-runtime.js';
import { CHRONICLE_RUNTIME } from './tokens.js';

// `_body`: set by express 4's body-parser; express 5's sets only `body`.
type NestRequest = IncomingMessage & { originalUrl?: string; body?: unknown; _body?: boolean };

@Controller()
export class ChronicleHttpController {
  constructor(@Inject(CHRONICLE_RUNTIME) private readonly runtime: ChronicleRuntime) {}

  @All(['commands/:name', 'queries/:name', 'openapi.json', 'events/stream', 'health', 'health/ready', 'metrics'])
  async serve(@Req() req: NestRequest, @Res() res: ServerResponse): Promise<void> {
    const handler = this.runtime.http;
    if (!handler) throw new Error('ChronicleHttpController registered without http options');
    const response = await handler(toRequest(req));
    res.statusCode = response.status;
    response.headers.forEach((value, name) => {
      res.setHeader(name, value);
    });
    // A body left unread (refused before reading it, or cut off at the limit) cannot be followed by another request on
    // this connection: close it once answered, as Fastify does.
    if (!req.complete) res.setHeader('connection', 'close');
    if (!response.body) {
      res.end();
      return;
    }
    // Only the event stream is a stream; anything else is answered in one write, without a Node stream per response.
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      res.end(Buffer.from(await response.arrayBuffer()));
      return;
    }
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    // A client gone mid-stream (an SSE reader disconnecting) cancels the body, which ends its subscription.
    res.on('close', () => body.destroy());
    body.on('error', () => res.destroy());
    body.pipe(res);
  }
}

function toRequest(req: NestRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = `http://${req.headers.host ?? 'localhost'}${req.originalUrl ?? req.url ?? '/'}`;
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers });
  // With express's JSON parser left on, the body is already read: hand on what it parsed (its refusals are the filter's).
  if (req._body === true || req.body !== undefined || req.readableEnded) {
    headers.delete('content-length');
    return new Request(url, { method, headers, body: JSON.stringify(req.body ?? null) });
  }
  return new Request(url, { method, headers, body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } as RequestInit);
}
