// Events written per time bucket, found by searching positions by timestamp: a few indexed probes per round instead of
// a scan of the window, so a busy store answers as fast as a quiet one.
import { ChronicleError } from '../errors.js';
import type { WriteRate, WriteRateOptions } from './store-inspector.js';

/** The first event at or after each position asked (undefined past the last), with its timestamp in ms. */
export type PositionProbe = (positions: readonly number[]) => Promise<Array<{ position: number; time: number } | undefined>>;

const MAX_BUCKETS = 120;
// Points probed inside each unresolved interval per round: an interval shrinks 16-fold a round, so 100k positions
// take 5 rounds and 100M take 7, each one query.
const FAN_OUT = 15;
const MAX_ROUNDS = 12;

/** Checked writeRate options with the bucket boundaries (ms): aligned to bucketMs so buckets stay put between calls. */
export function rateBoundaries(options: WriteRateOptions): { bucketMs: number; boundaries: number[] } {
  const { windowMs, bucketMs } = options ?? ({} as WriteRateOptions);
  if (!(Number.isSafeInteger(bucketMs) && bucketMs >= 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `bucketMs must be a positive integer, got ${JSON.stringify(bucketMs)}`);
  }
  if (!(Number.isSafeInteger(windowMs) && windowMs >= bucketMs && windowMs / bucketMs <= MAX_BUCKETS)) {
    throw new ChronicleError('INVALID_ARGUMENT', `windowMs must be a multiple of bucketMs making 1 to ${MAX_BUCKETS} buckets`);
  }
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime()))
    throw new ChronicleError('INVALID_ARGUMENT', 'now must be a valid Date');
  const count = Math.ceil(windowMs / bucketMs);
  const end = Math.floor(now.getTime() / bucketMs) * bucketMs + bucketMs;
  const boundaries = Array.from({ length: count + 1 }, (_, i) => end - (count - i) * bucketMs);
  return { bucketMs, boundaries };
}

/** Counts the events of each bucket between `head`'s log and the boundaries, through `probe`. */
export async function writeRateOf(options: WriteRateOptions, head: number, probe: PositionProbe): Promise<WriteRate> {
  const { bucketMs, boundaries } = rateBoundaries(options);
  // For each boundary t: the smallest probe point p whose first event at/after p is stamped >= t. `lo` is a point
  // known to answer earlier than t (0: none), `hi` one known to answer t or later (head + 1: past the log), and
  // `at` the position of the event `hi` answered (head + 1 when none).
  const lo = boundaries.map(() => 0);
  const hi = boundaries.map(() => head + 1);
  const at = boundaries.map(() => head + 1);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const points = new Set<number>();
    boundaries.forEach((_, i) => {
      const gap = hi[i] - lo[i];
      if (gap <= 1) return;
      const step = gap / (FAN_OUT + 1);
      for (let k = 1; k <= FAN_OUT; k++) {
        const p = lo[i] + Math.max(1, Math.round(step * k));
        if (p < hi[i]) points.add(p);
      }
    });
    if (points.size === 0) break;
    const asked = [...points].sort((a, b) => a - b);
    const answers = await probe(asked);
    asked.forEach((p, j) => {
      const answer = answers[j];
      boundaries.forEach((t, i) => {
        if (p <= lo[i] || p >= hi[i]) return;
        // An early answer at q also answers every point up to q: no event lies between p and q.
        if (answer !== undefined && answer.time < t) lo[i] = Math.max(p, Math.min(answer.position, hi[i] - 1));
        else {
          hi[i] = p;
          at[i] = answer?.position ?? head + 1;
        }
      });
    });
  }
  const buckets = boundaries.slice(0, -1).map((start, i) => ({
    start: new Date(start).toISOString(),
    events: Math.max(0, at[i + 1] - at[i]),
  }));
  return { bucketMs, buckets };
}
