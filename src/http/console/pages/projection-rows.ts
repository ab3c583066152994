// Projection status as the overview and the Projections page show it: state, position, lag, last error.
import type { ProjectionStatus } from 'chronicle-es';
import { type ConsoleContext, href } from '../console-context.js';
import type { ConsoleDeps } from '../console-deps.js';
import { html, type SafeHtml } from '../escape.js';
import { table } from '../layout.js';

/** The state of a projection, styled by its value. */
export const stateBadge = (status: ProjectionStatus) =>
  html`<span class="state-${status.state}">${status.state.replace('_', ' ')}</span>${
    status.rebuild ? html` <span class="muted">(rebuild ${status.rebuild.position}/${status.rebuild.target})</span>` : ''
  }`;

/** The last error of a projection with a link to the failing event. */
export function lastError(ctx: ConsoleContext, status: ProjectionStatus): SafeHtml {
  const error = status.lastError;
  if (!error) return html``;
  return html`<span class="error">${error.code ? `${error.code}: ` : ''}${error.message}</span>${
    error.eventId
      ? html` — failing event <a href="${href(ctx, 'events', error.eventId)}">${error.type ?? 'event'} at ${error.position ?? '?'}</a>`
      : ''
  }`;
}

/** The table of every projection and process manager. */
export function projectionTable(ctx: ConsoleContext, deps: ConsoleDeps, statuses: readonly ProjectionStatus[]): SafeHtml {
  const rows = statuses.map(
    (s) => html`<tr data-projection="${s.name}">
<td><a href="${href(ctx, 'projections', s.name)}">${s.name}</a></td>
<td>${deps.processManagers.has(s.name) ? 'process manager' : 'projection'}</td>
<td class="state">${stateBadge(s)}</td><td>${s.version}</td><td>${s.position}</td>
<td class="lag-events">${s.lagEvents}</td><td>${s.lagSeconds.toFixed(1)} s</td><td>${lastError(ctx, s)}</td></tr>`,
  );
  return table(
    ['Name', 'Kind', 'State', 'Version', 'Position', 'Lag (events)', 'Lag (time)', 'Last error'],
    rows,
    deps.projector ? 'No projections.' : 'No projector is attached to this console.',
  );
}
