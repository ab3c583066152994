// One event as the stream and event pages show it: type, version, position, time, metadata, pretty JSON data.
import type { RecordedEvent } from 'chronicle-es';
import { type ConsoleContext, href } from '../console-context.js';
import { html, prettyJson, type SafeHtml } from '../escape.js';

/** A link to an event, named by its type and position. */
export const eventLink = (ctx: ConsoleContext, e: RecordedEvent) =>
  html`<a href="${href(ctx, 'events', e.id)}">${e.type}</a> <span class="muted">#${e.position} in ${e.streamId} v${e.version}</span>`;

/** An event with its data and metadata. */
export function eventCard(ctx: ConsoleContext, e: RecordedEvent): SafeHtml {
  return html`<article class="event" data-event="${e.id}">
<div><strong><a href="${href(ctx, 'events', e.id)}">${e.type}</a></strong>
<span class="muted">version ${e.version} · position ${e.position} · ${e.metadata.timestamp}</span></div>
<div class="muted">stream <a href="${href(ctx, 'streams', e.streamId)}">${e.streamId}</a> · id ${e.id}${
    e.tags.length ? ` · tags ${e.tags.join(', ')}` : ''
  }</div>
<details open><summary>data</summary><pre class="data">${prettyJson(e.data)}</pre></details>
<details><summary>metadata</summary><pre class="metadata">${prettyJson(e.metadata)}</pre></details>
</article>`;
}
