// Stream: its events newest first, a page at a time (keyset on the version).
import type { StreamEventsPage, StreamInfo } from 'chronicle-es';
import { type ConsoleContext, href, queryString } from '../console-context.js';
import { html, type SafeHtml } from '../escape.js';
import { page } from '../layout.js';
import { eventCard } from './event-card.js';

/** The page of one stream. */
export function streamPage(ctx: ConsoleContext, info: StreamInfo, events: StreamEventsPage, paged: boolean): SafeHtml {
  const base = href(ctx, 'streams', info.streamId);
  const pager = html`<p class="pager">${paged ? html`<a href="${base}">« Newest</a>` : ''}${
    events.next !== undefined ? html`<a rel="next" href="${base}${queryString({ before: events.next })}">Older »</a>` : ''
  }</p>`;
  return page(
    ctx,
    `Stream ${info.streamId}`,
    html`<p>Version ${info.version}${info.deleted ? ' · deleted (its events stay in the log)' : ''} ·
<a href="${href(ctx, 'streams')}${queryString({ prefix: info.streamId })}">find similar</a></p>
${events.events.length ? events.events.map((e) => eventCard(ctx, e)) : html`<p class="empty">No events on this page.</p>`}
${pager}`,
    'streams',
  );
}
