// The console's page frame: navigation, the signed-in principal, htmx with a CSP-safe configuration.
import { type ConsoleContext, href } from './console-context.js';
import { CSRF_FIELD } from './csrf.js';
import { html, type SafeHtml } from './escape.js';

// htmx without eval or inline styles (the CSP allows neither: its settle step would copy an empty `style` attribute
// onto every element with an id), swapping error pages too, so a refused command's problem details show.
const HTMX_CONFIG = JSON.stringify({
  allowEval: false,
  allowScriptTags: false,
  includeIndicatorStyles: false,
  attributesToSettle: ['class', 'width', 'height'],
  responseHandling: [
    { code: '204', swap: false },
    { code: '...', swap: true },
  ],
});

const NAV: ReadonlyArray<[label: string, path: string]> = [
  ['Overview', ''],
  ['Streams', 'streams'],
  ['Projections', 'projections'],
  ['Messages', 'messages'],
];

/** A hidden CSRF field for a form. */
export const csrfField = (ctx: ConsoleContext) => html`<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrf}">`;

/** A whole page. */
export function page(ctx: ConsoleContext, title: string, body: SafeHtml, active = ''): SafeHtml {
  const nav = ctx.principal
    ? html`<nav>${NAV.map(
        ([label, path]) =>
          html`<a href="${path === '' ? ctx.base : href(ctx, path)}"${path === active ? html` aria-current="page"` : ''}>${label}</a>`,
      )}
      <span class="who">${ctx.principal.id} (${ctx.principal.roles.join(', ')})</span>
      <form method="post" action="${href(ctx, 'logout')}" class="inline">${csrfField(ctx)}<button type="submit">Sign out</button></form>
    </nav>`
    : html``;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${title} · ${ctx.title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${href(ctx, 'assets', 'console.css')}">
<script src="${href(ctx, 'assets', 'htmx.min.js')}" defer></script>
<script src="${href(ctx, 'assets', 'console.js')}" defer></script>
</head>
<body hx-boost="true">
<header><strong>${ctx.title}</strong>${nav}</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** A table of rows; `rows` already rendered. */
export function table(headings: readonly string[], rows: readonly SafeHtml[], empty = 'Nothing here yet.'): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table><thead><tr>${headings.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table>`;
}
