// Read-your-writes over HTTP: `minPosition` (query parameter or header) and the bounded wait.
import { ChronicleError } from 'chronicle-es';

export type ConsistencyOptions = { defaultWaitMs: number; maxWaitMs: number };
export type Consistency = { minPosition?: number; waitMs: number };

export const MIN_POSITION_HEADER = 'chronicle-min-position';
export const WAIT_MS_HEADER = 'chronicle-wait-ms';

const INTEGER = /^\d{1,16}$/;

/**
 * Reads minPosition (the larger of query parameter and header) and the wait bound (header, capped).
 * @throws INVALID_ARGUMENT for a value that is not a non-negative integer
 */
export function readConsistency(
  parameter: unknown,
  headers: Record<string, string | string[] | undefined>,
  options: ConsistencyOptions,
): Consistency {
  const fromQuery = parameter === undefined ? undefined : integer(parameter, 'minPosition');
  const header = headers[MIN_POSITION_HEADER];
  const fromHeader = header === undefined ? undefined : integer(header, 'Chronicle-Min-Position');
  const minPosition =
    fromQuery === undefined ? fromHeader : fromHeader === undefined ? fromQuery : Math.max(fromQuery, fromHeader);
  const wait = headers[WAIT_MS_HEADER];
  const waitMs = wait === undefined ? options.defaultWaitMs : Math.min(integer(wait, 'Chronicle-Wait-Ms'), options.maxWaitMs);
  return minPosition === undefined ? { waitMs } : { minPosition, waitMs };
}

function integer(value: unknown, name: string): number {
  if (typeof value === 'string' && INTEGER.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new ChronicleError('INVALID_ARGUMENT', `${name} must be a non-negative integer`);
}
