// Overview: totals, write rate over the last minutes, every projection with its lag, and the live chart (SSE).

import { rateAndLagChart } from '../chart.js';
import { type ConsoleContext, href } from '../console-context.js';
import type { ConsoleDeps, OverviewData } from '../console-deps.js';
import { html, type SafeHtml } from '../escape.js';
import { page } from '../layout.js';
import { projectionTable } from './projection-rows.js';

/** The part of the overview the live stream replaces. */
export function overviewFragment(ctx: ConsoleContext, deps: ConsoleDeps, data: OverviewData): SafeHtml {
  const buckets = data.rate.buckets;
  const perBucketS = data.rate.bucketMs / 1000;
  const lastMinute = buckets.slice(-Math.ceil(60 / perBucketS)).reduce((sum, b) => sum + b.events, 0);
  const tenMinutes = buckets.reduce((sum, b) => sum + b.events, 0);
  const lag = data.projections.reduce((sum, p) => sum + p.lagEvents, 0);
  return html`<div class="cards">
<div class="card">Events<b id="stat-events">${data.stats.events}</b></div>
<div class="card">Streams<b id="stat-streams">${data.stats.streams}</b></div>
<div class="card">Head position<b>${data.stats.headPosition}</b></div>
<div class="card">Written, last minute<b id="stat-rate">${lastMinute}</b><span class="muted">${tenMinutes} in 10 min</span></div>
<div class="card">Projection lag<b id="stat-lag">${lag}</b><span class="muted">events, all projections</span></div>
</div>
<h2>Write rate (per ${perBucketS} s, last 10 minutes) and lag</h2>
${rateAndLagChart(
  buckets.map((b) => b.events),
  data.lagHistory,
)}
<h2>Projections and process managers</h2>
${projectionTable(ctx, deps, data.projections)}
<p class="muted">Updated ${new Date().toISOString()}</p>`;
}

/** The overview page; `#live` is refreshed over SSE where script runs. */
export function overviewPage(ctx: ConsoleContext, deps: ConsoleDeps, data: OverviewData): SafeHtml {
  return page(ctx, 'Overview', html`<div id="live" data-live="${href(ctx, 'live')}">${overviewFragment(ctx, deps, data)}</div>`);
}
