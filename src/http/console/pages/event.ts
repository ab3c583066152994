// Event: one event with its causation chain, the events it caused and its correlated events, each linked.
import type { RelatedEvents } from 'chronicle-es';
import { type ConsoleContext, href } from '../console-context.js';
import { html, type SafeHtml } from '../escape.js';
import { page } from '../layout.js';
import { eventCard, eventLink } from './event-card.js';

const list = (ctx: ConsoleContext, events: RelatedEvents['causes'], empty: string, cls: string) =>
  events.length
    ? html`<ol class="${cls}">${events.map((e) => html`<li>${eventLink(ctx, e)}</li>`)}</ol>`
    : html`<p class="empty">${empty}</p>`;

/** The page of one event. */
export function eventPage(ctx: ConsoleContext, related: RelatedEvents): SafeHtml {
  const { event, causes, effects, correlated, scanned } = related;
  const causationId = event.metadata.causationId;
  const cause = causes[0];
  return page(
    ctx,
    `Event ${event.type}`,
    html`${eventCard(ctx, event)}
<h2>Caused by</h2>
${
  cause
    ? html`<p><a class="causation" href="${href(ctx, 'events', cause.id)}">${cause.type} #${cause.position}</a></p>`
    : causationId
      ? html`<p>${causationId} <span class="muted">(not an event of this store: a command or request id)</span></p>`
      : html`<p class="empty">No causation id.</p>`
}
<h2>Causation chain</h2>
${list(ctx, causes, 'Nothing further up.', 'causes')}
<h2>Caused</h2>
${list(ctx, effects, 'No events name this one as their cause.', 'effects')}
<h2>Same correlation${event.metadata.correlationId ? html` <span class="muted">${event.metadata.correlationId}</span>` : ''}</h2>
${list(ctx, correlated, 'No other events with this correlation id.', 'correlated')}
<p class="muted">Effects and correlated events are looked for between positions ${scanned.from} and ${scanned.to}.</p>`,
    'streams',
  );
}
