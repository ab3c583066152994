// Projections: every projection's state, position, lag and last error; one projection's page with its rebuild
// progress (polled by htmx while it runs) and, for admins, rebuild / retry / skip behind a confirmation page.
import type { ProjectionStatus } from 'chronicle-es';
import { type ConsoleContext, href } from '../console-context.js';
import type { ConsoleDeps } from '../console-deps.js';
import { html, type SafeHtml } from '../escape.js';
import { csrfField, page } from '../layout.js';
import { lastError, projectionTable, stateBadge } from './projection-rows.js';

/** What an operator may do to a projection. */
export const ACTIONS = ['rebuild', 'retry', 'skip'] as const;
export type ProjectionAction = (typeof ACTIONS)[number];

const DESCRIPTIONS: Record<ProjectionAction, string> = {
  rebuild: 'replays every event into fresh tables while the current ones keep serving, then swaps them',
  retry: 'restarts the failed projection from its failing event',
  skip: 'records the failing event as skipped and continues after it',
};

/** The actions that apply to a projection in its state. */
export function actionsFor(status: ProjectionStatus): ProjectionAction[] {
  const failed = status.state === 'failed';
  return ACTIONS.filter((a) => a === 'rebuild' || (failed && (a === 'retry' || status.lastError?.eventId !== undefined)));
}

/** The Projections page. */
export function projectionsPage(ctx: ConsoleContext, deps: ConsoleDeps, statuses: readonly ProjectionStatus[]): SafeHtml {
  return page(ctx, 'Projections', projectionTable(ctx, deps, statuses), 'projections');
}

/** The progress block: polls itself every second while a rebuild runs, then shows the state it reached. */
export function progressFragment(ctx: ConsoleContext, deps: ConsoleDeps, status: ProjectionStatus): SafeHtml {
  const started = deps.rebuilds.get(status.name);
  const running = status.rebuild !== undefined || started?.running === true;
  const polling = running
    ? html` hx-get="${href(ctx, 'projections', status.name, 'progress')}" hx-trigger="every 1s" hx-swap="outerHTML"`
    : '';
  const bar = status.rebuild
    ? html`<p>Rebuilding version ${status.rebuild.version}: <progress max="${Math.max(1, status.rebuild.target)}" value="${status.rebuild.position}"></progress>
<span class="rebuild-position">${status.rebuild.position}</span> / ${status.rebuild.target}${status.rebuild.failed ? html` <span class="error">failed</span>` : ''}</p>`
    : running
      ? html`<p>Rebuild starting…</p>`
      : html`<p><progress max="1" value="1"></progress> ${status.state === 'live' ? 'Live' : status.state} at position ${status.position}</p>`;
  return html`<div id="progress" data-state="${status.state}" data-running="${String(running)}"${polling}>
<p>State: ${stateBadge(status)} · position ${status.position} · lag <span class="lag-events">${status.lagEvents}</span> events</p>
${bar}${started?.error ? html`<p class="error">Last rebuild from the console failed: ${started.error}</p>` : ''}
</div>`;
}

/** One projection's page. */
export function projectionPage(ctx: ConsoleContext, deps: ConsoleDeps, status: ProjectionStatus, notice?: string): SafeHtml {
  const actions = ctx.admin
    ? html`<h2>Actions</h2><p>${actionsFor(status).map(
        (a) =>
          html`<a class="action" href="${href(ctx, 'projections', status.name, 'confirm', a)}">${a[0].toUpperCase()}${a.slice(1)}…</a> `,
      )}</p>`
    : html``;
  return page(
    ctx,
    `Projection ${status.name}`,
    html`${notice ? html`<p class="ok">${notice}</p>` : ''}
<p>${deps.processManagers.has(status.name) ? 'Process manager' : 'Projection'} · version ${status.version}${
      status.owner ? ` · held by ${status.owner}` : ''
    }</p>
${progressFragment(ctx, deps, status)}
${status.lastError ? html`<h2>Last error</h2><p>${lastError(ctx, status)}</p>` : ''}
${actions}
<p><a href="${href(ctx, 'projections')}">All projections</a></p>`,
    'projections',
  );
}

/** Asks an admin to confirm an action; the form posts it with the CSRF token. */
export function confirmPage(ctx: ConsoleContext, status: ProjectionStatus, action: ProjectionAction): SafeHtml {
  return page(
    ctx,
    `${action[0].toUpperCase()}${action.slice(1)} ${status.name}?`,
    html`<p>This ${DESCRIPTIONS[action]}.</p>
<form method="post" action="${href(ctx, 'projections', status.name, action)}">${csrfField(ctx)}
<button type="submit" class="danger">Confirm ${action}</button>
<a href="${href(ctx, 'projections', status.name)}">Cancel</a>
</form>`,
    'projections',
  );
}
