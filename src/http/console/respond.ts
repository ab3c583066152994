// Sending console markup.
import type { FastifyReply } from 'fastify';
import type { SafeHtml } from './escape.js';

/** Sends a page or fragment as HTML with `status` (default 200). */
export function sendHtml(reply: FastifyReply, markup: SafeHtml, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(markup.value);
}
