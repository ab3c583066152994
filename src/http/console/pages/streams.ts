// Streams: categories, search by id prefix, and a keyset-paged list.
import type { CategoryStats, StreamPage } from 'chronicle-es';
import { type ConsoleContext, href, queryString } from '../console-context.js';
import { html, type SafeHtml } from '../escape.js';
import { page, table } from '../layout.js';

export type StreamsQuery = { category?: string; prefix?: string; after?: string };

/** The Streams page. */
export function streamsPage(
  ctx: ConsoleContext,
  categories: readonly CategoryStats[],
  query: StreamsQuery,
  list: StreamPage,
): SafeHtml {
  const base = href(ctx, 'streams');
  const categoryLinks = categories.map(
    (c) =>
      html`<a href="${base}${queryString({ category: c.category })}"${c.category === query.category ? html` aria-current="page"` : ''}>${c.category}</a> <span class="muted">${c.streams} streams, ${c.events} events</span><br>`,
  );
  const rows = list.streams.map(
    (s) => html`<tr><td><a href="${href(ctx, 'streams', s.streamId)}">${s.streamId}</a></td><td>${s.category}</td>
<td>${s.version}</td><td>${s.lastPosition}</td><td>${s.lastTimestamp}</td><td>${s.deleted ? 'deleted' : ''}</td></tr>`,
  );
  const filter = { category: query.category, prefix: query.prefix };
  const pager = html`<p class="pager">${
    query.after !== undefined ? html`<a href="${base}${queryString(filter)}">« First page</a>` : ''
  }${list.next !== undefined ? html`<a rel="next" href="${base}${queryString({ ...filter, after: list.next })}">Next page »</a>` : ''}</p>`;
  return page(
    ctx,
    'Streams',
    html`<h2>Categories</h2><p>${categoryLinks.length ? categoryLinks : html`<span class="empty">No events yet.</span>`}${
      query.category ? html`<a href="${base}">All categories</a>` : ''
    }</p>
<form method="get" action="${base}" role="search">
${query.category ? html`<input type="hidden" name="category" value="${query.category}">` : ''}
<label for="prefix">Stream id starts with</label>
<input id="prefix" type="text" name="prefix" value="${query.prefix ?? ''}"> <button type="submit">Search</button>
</form>
<h2>${query.category ? `Streams of ${query.category}` : 'Streams'}${query.prefix ? ` starting with “${query.prefix}”` : ''}</h2>
${table(['Stream', 'Category', 'Version', 'Last position', 'Last event', ''], rows, 'No streams match.')}
${pager}`,
    'streams',
  );
}
