// The upcaster chain an event definition declares: one step per old schema version, each turning that version's data
// into the next one's, so a stored event of any version reaches code in the definition's current shape.
import { ChronicleError } from '../errors.js';

/** One step: data of schema version `from` in, data of version `from + 1` out. */
export type UpcastStep = { readonly from: number; readonly upcast: (data: any) => unknown };

/**
 * Upcasters built with `upcasters<V1>().from(1, …).from(2, …)`. `Data` is what the last step returns: a definition
 * accepts the chain only when that is its schema's type, so the compiler checks every step's input and output.
 */
export type UpcasterChain<Data = unknown> = {
  readonly kind: 'upcasters';
  readonly steps: readonly UpcastStep[];
  /**
   * Adds the step from schema version `version` (data typed as the previous step returned it) to `version + 1`.
   * Steps go in order, one per version. @throws INVALID_ARGUMENT a version that does not follow the previous step's
   */
  from<Next>(version: number, upcast: (data: Data) => Next): UpcasterChain<Next>;
  /** Compile-time only: the data the chain produces. */
  readonly __data?: Data;
};

/**
 * Starts an upcaster chain; `First` is the data of the oldest version it upcasts (the one the first `from` names).
 * @example upcasters<{ total: number }>().from(1, (v1) => ({ ...v1, currency: 'EUR' }))
 */
export function upcasters<First = unknown>(): UpcasterChain<First> {
  return chain<First>([]);
}

function chain<Data>(steps: readonly UpcastStep[]): UpcasterChain<Data> {
  return Object.freeze({
    kind: 'upcasters' as const,
    steps,
    from<Next>(version: number, upcast: (data: Data) => Next): UpcasterChain<Next> {
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new ChronicleError('INVALID_ARGUMENT', `upcaster versions are positive integers, got ${JSON.stringify(version)}`);
      }
      const last = steps[steps.length - 1];
      if (last !== undefined && version !== last.from + 1) {
        throw new ChronicleError('INVALID_ARGUMENT', `upcaster from version ${version} must follow the one from ${last.from}`);
      }
      if (typeof upcast !== 'function') {
        throw new ChronicleError('INVALID_ARGUMENT', `upcaster from version ${version} must be a function`);
      }
      return chain<Next>([...steps, Object.freeze({ from: version, upcast })]);
    },
  });
}

/**
 * Checks a definition's evolution options: the chain ends at the version before `schemaVersion`, aliases are event
 * type names other than its own. @throws INVALID_ARGUMENT
 */
export function checkEvolution(
  type: string,
  schemaVersion: number,
  chainGiven: UpcasterChain<unknown> | undefined,
  aliases: readonly string[] | undefined,
  isName: (name: string) => boolean,
): void {
  if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: schemaVersion must be a positive integer`);
  }
  if (chainGiven !== undefined) {
    if (chainGiven?.kind !== 'upcasters') {
      throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: upcasters must be built with upcasters<…>().from(…)`);
    }
    const last = chainGiven.steps[chainGiven.steps.length - 1];
    if (last !== undefined && last.from + 1 !== schemaVersion) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `event ${type}: its last upcaster (from version ${last.from}) must lead to its schemaVersion ${schemaVersion}`,
      );
    }
  }
  if (aliases !== undefined) {
    if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string' || !isName(a) || a === type)) {
      throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: aliases must be event type names other than its own`);
    }
  }
}
