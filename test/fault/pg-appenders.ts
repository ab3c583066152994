// The appenders of the PostgreSQL concurrency tests: single appends of 1–3 events to streams shared by every writer,
// and every fifth call an appendMany over two of them (locks taken on several streams at once, in any order).
import type { EventStore } from 'chronicle-es';

const STREAMS = 40;

/** Runs `writers` loops for `durationMs`; `acked` hears each acknowledged write. Rejects on any append error. */
export async function runAppenders(
  store: EventStore,
  label: string,
  writers: number,
  durationMs: number,
  acked: (streamId: string, version: number, count: number) => void,
): Promise<void> {
  const until = Date.now() + durationMs;
  let n = 0;
  const writer = async (w: number) => {
    while (Date.now() < until) {
      const i = n++;
      const count = 1 + (i % 3);
      const events = Array.from({ length: count }, (_, k) => ({ type: 'Appended', data: { label, w, i, k } }));
      const a = `shared-${(i * 7 + w) % STREAMS}`;
      if (i % 5 === 4) {
        const b = `shared-${(i * 13 + w + 1) % STREAMS}`;
        if (b === a) continue;
        const results = await store.appendMany([
          { streamId: a, events },
          { streamId: b, events: events.slice(0, 1) },
        ]);
        acked(a, results[0].version, count);
        acked(b, results[1].version, 1);
      } else {
        const r = await store.append(a, events);
        acked(a, r.version, count);
      }
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
}
