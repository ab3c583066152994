// The rules stream ids and tags share: a stream id counts as a tag, so whatever names one must be able to name the other.

const MAX_LENGTH = 512;
// Control characters would make names ambiguous in logs and URLs; everything else is plain data.
const CONTROL = /[\u0000-\u001f\u007f]/;
// String.prototype.isWellFormed needs the ES2024 lib, which would also admit APIs Node 20 lacks.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `value` cannot be a stream id or a tag (`what` names it in the reason), or undefined when it can: a non-empty
 * string of at most 512 characters, without control characters, well-formed Unicode.
 */
export function nameProblem(value: unknown, what: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `${what} must be a non-empty string`;
  if (value.length > MAX_LENGTH) return `${what} is longer than ${MAX_LENGTH} characters`;
  if (CONTROL.test(value)) return `${what} must not contain control characters`;
  // A lone surrogate becomes U+FFFD in UTF-8 storage, so two different names would become one.
  if (LONE_SURROGATE.test(value)) return `${what} must be well-formed Unicode (no lone surrogates)`;
  return undefined;
}
