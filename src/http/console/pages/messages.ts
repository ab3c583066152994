// Messages: every registered command and query with its JSON Schema and a form generated from it; a command is sent
// (a query run) with the signed-in principal, and the result or the problem details are shown.
import { type CommandDefinition, type QueryDefinition, toJsonSchema } from 'chronicle-es';
import type { Problem } from '../../../http-common/index.js';
import { type ConsoleContext, href } from '../console-context.js';
import { html, prettyJson, type SafeHtml } from '../escape.js';
import { csrfField, page } from '../layout.js';
import { fieldsOf, formFields } from '../message-form.js';

/** What a sent message came back with. */
export type MessageOutcome = { message: string; ok: true; result: unknown } | { message: string; ok: false; problem: Problem };

/** The JSON Schema of a definition's payload. */
export const schemaOf = (definition: CommandDefinition | QueryDefinition) => toJsonSchema(definition.schema);

function outcomeBlock(ctx: ConsoleContext, outcome: MessageOutcome): SafeHtml {
  if (!outcome.ok) {
    return html`<div class="problem" id="outcome" data-status="${outcome.problem.status}"><strong>${outcome.problem.status} ${outcome.problem.title}</strong>
<pre>${prettyJson(outcome.problem)}</pre></div>`;
  }
  const result = outcome.result as { streamId?: unknown };
  return html`<div class="ok" id="outcome"><strong>OK</strong><pre>${prettyJson(outcome.result)}</pre>${
    typeof result?.streamId === 'string'
      ? html`<a href="${href(ctx, 'streams', result.streamId)}">Open stream ${result.streamId}</a>`
      : ''
  }</div>`;
}

function messageSection(
  ctx: ConsoleContext,
  kind: 'command' | 'query',
  definition: CommandDefinition | QueryDefinition,
  outcome: MessageOutcome | undefined,
  values: Readonly<Record<string, unknown>>,
): SafeHtml {
  const schema = schemaOf(definition);
  const mine = outcome?.message === definition.name;
  const action = href(ctx, 'messages', kind === 'command' ? 'commands' : 'queries', definition.name);
  return html`<section class="message" id="${kind}-${definition.name}">
<h3>${definition.name}</h3>${definition.description ? html`<p>${definition.description}</p>` : ''}
${definition.roles ? html`<p class="muted">roles: ${definition.roles.join(', ')}</p>` : ''}
<details><summary>schema</summary><pre>${prettyJson(schema)}</pre></details>
<form method="${kind === 'command' ? 'post' : 'get'}" action="${action}">
${kind === 'command' ? csrfField(ctx) : ''}${formFields(definition.name, fieldsOf(schema), mine ? values : {})}
<p><button type="submit">${kind === 'command' ? 'Send' : 'Run'} ${definition.name}</button></p>
</form>
${mine && outcome ? outcomeBlock(ctx, outcome) : ''}
</section>`;
}

/** The Messages page, with the outcome of the message just sent, if any. */
export function messagesPage(
  ctx: ConsoleContext,
  commands: readonly CommandDefinition[],
  queries: readonly QueryDefinition[],
  outcome?: MessageOutcome,
  values: Readonly<Record<string, unknown>> = {},
): SafeHtml {
  return page(
    ctx,
    'Messages',
    html`${outcome ? outcomeBlock(ctx, outcome) : ''}
<p class="muted">Sent as ${ctx.principal?.id}: the same roles and policies apply as over the API.</p>
<h2>Commands</h2>${commands.length ? commands.map((d) => messageSection(ctx, 'command', d, outcome, values)) : html`<p class="empty">No command bus.</p>`}
<h2>Queries</h2>${queries.length ? queries.map((d) => messageSection(ctx, 'query', d, outcome, values)) : html`<p class="empty">No query bus.</p>`}`,
    'messages',
  );
}
