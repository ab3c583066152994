// The one naming rule for projections and their tables, so every read store can build
// unambiguous physical names (`<projection>__<table>__g<generation>`) from them.
import { ChronicleError } from '../errors.js';

// Letters and digits in groups joined by single underscores: a `__` can then only be a separator.
const READ_MODEL_NAME = /^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$/;
const MAX_LENGTH = 64;

/** @throws INVALID_ARGUMENT unless `name` is letters/digits/single underscores, starting with a letter, at most 64 characters. */
export function assertReadModelName(kind: 'projection' | 'table', name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length > MAX_LENGTH || !READ_MODEL_NAME.test(name)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `${kind} name must start with a letter and use letters, digits and single underscores (at most ${MAX_LENGTH}); got ${JSON.stringify(name)}`,
      { details: { kind, name } },
    );
  }
}
