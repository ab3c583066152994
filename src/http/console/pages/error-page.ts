// A refused or failed console request as a page: the problem's status, title and detail (never a stack).

import type { Problem } from '../../../http-common/index.js';
import type { ConsoleContext } from '../console-context.js';
import { html, type SafeHtml } from '../escape.js';
import { page } from '../layout.js';

/** The page of a problem. */
export function errorPage(ctx: ConsoleContext, problem: Problem): SafeHtml {
  return page(
    ctx,
    `${problem.status} ${problem.title}`,
    html`<div class="problem" id="problem" data-code="${problem.code}"><p>${problem.detail}</p></div>
<p><a href="${ctx.base}">Back to the overview</a></p>`,
  );
}
