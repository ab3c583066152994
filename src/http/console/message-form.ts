// Forms for registered messages, generated from their JSON Schema (as OpenAPI reads it), and the payload a submitted
// form stands for. Values are taken as typed where the schema says so; anything else is left for the message's own
// validation to refuse, so the operator sees the same problem details a client would.
import { ChronicleError } from 'chronicle-es';
import { html, type SafeHtml } from './escape.js';

type Json = Record<string, unknown>;

/** One form field: a top-level property of the message's schema (`json`: typed as JSON text). */
export type Field = {
  name: string;
  kind: 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';
  required: boolean;
  options?: string[];
  description?: string;
};

// The name of the one field of a message whose schema is not an object of properties: the whole payload as JSON.
const WHOLE = '_payload';

/** The fields of a schema; a schema without properties gets one JSON field for the whole payload. */
export function fieldsOf(schema: Json): Field[] {
  const properties = schema.properties;
  if (schema.type !== 'object' || typeof properties !== 'object' || properties === null) {
    return [{ name: WHOLE, kind: 'json', required: true, description: 'the whole payload, as JSON' }];
  }
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(properties as Record<string, Json>).map(([name, property]) => {
    const description = typeof property.description === 'string' ? property.description : undefined;
    const base = { name, required: required.has(name), ...(description && { description }) };
    if (Array.isArray(property.enum) && property.enum.every((v) => typeof v === 'string')) {
      return { ...base, kind: 'enum', options: property.enum as string[] };
    }
    const type = property.type;
    if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return { ...base, kind: type };
    return { ...base, kind: 'json' };
  });
}

function coerce(field: Field, text: string): unknown {
  switch (field.kind) {
    case 'number':
    case 'integer': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? n : text;
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        throw new ChronicleError('INVALID_ARGUMENT', `field ${field.name} must be JSON`);
      }
    default:
      return text;
  }
}

/** The payload of a submitted form: empty fields left out. @throws INVALID_ARGUMENT when a JSON field is not JSON */
export function payloadOf(fields: readonly Field[], form: Readonly<Record<string, unknown>>): unknown {
  const payload: Record<string, unknown> = {};
  for (const field of fields) {
    const value = form[field.name];
    if (typeof value !== 'string' || value === '') continue;
    const parsed = coerce(field, value);
    if (field.name === WHOLE) return parsed;
    payload[field.name] = parsed;
  }
  return fields.length === 1 && fields[0].name === WHOLE ? {} : payload;
}

function input(field: Field, value: string | undefined, id: string): SafeHtml {
  switch (field.kind) {
    case 'enum':
      return html`<select id="${id}" name="${field.name}"><option value=""></option>${(field.options ?? []).map(
        (o) => html`<option${o === value ? html` selected` : ''}>${o}</option>`,
      )}</select>`;
    case 'boolean':
      return html`<select id="${id}" name="${field.name}"><option value=""></option>${['true', 'false'].map(
        (o) => html`<option${o === value ? html` selected` : ''}>${o}</option>`,
      )}</select>`;
    case 'json':
      return html`<textarea id="${id}" name="${field.name}">${value ?? ''}</textarea>`;
    case 'number':
    case 'integer':
      // Text, not type=number: the browser would refuse to send what the message's validation should refuse.
      return html`<input id="${id}" type="text" inputmode="decimal" name="${field.name}" value="${value ?? ''}">`;
    default:
      return html`<input id="${id}" type="text" name="${field.name}" value="${value ?? ''}">`;
  }
}

/** The fields of a message's form, filled with `values` (a form sent back with its result). */
export function formFields(message: string, fields: readonly Field[], values: Readonly<Record<string, unknown>> = {}): SafeHtml {
  return html`${fields.map((field) => {
    const id = `${message}-${field.name}`;
    const value = typeof values[field.name] === 'string' ? (values[field.name] as string) : undefined;
    return html`<label for="${id}">${field.name}${field.required ? ' *' : ''} <span class="muted">${field.kind}${
      field.description ? ` — ${field.description}` : ''
    }</span></label>${input(field, value, id)}`;
  })}`;
}
