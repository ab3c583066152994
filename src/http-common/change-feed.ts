// The read-model change feed every adapter's `GET /events/stream` serves.

/** A read-model change: a projection has passed a position. */
export type ProjectionChange = { projection: string; position: number };

/** Subscribes a listener to read-model changes; returns the unsubscribe function. */
export type NotificationSource = (listener: (change: ProjectionChange) => void) => () => void;

/** The current position of every projection (e.g. from `projector.status()`). */
export type PositionSource = () => readonly ProjectionChange[] | Promise<readonly ProjectionChange[]>;

/** One SSE connection's side of the feed: where its frames go, and who hears a failed snapshot. */
export type ChangeFeedConnection = {
  notifications: NotificationSource;
  positions?: PositionSource;
  /** Writes SSE text to the connection. */
  send(text: string): void;
  /** The snapshot of positions failed: the stream goes on, the client learns positions as they move. */
  onPositionsError(err: unknown): void;
};

/**
 * The framing every adapter's event stream uses: `retry` and `: connected` first, then (with `positions`) each
 * projection's current position, then live changes; a projection is never sent a position at or below one already
 * sent on this connection, so a snapshot racing a live change cannot send a step back. Each `projection` event has the
 * change's position as its `id` (a reconnecting EventSource's `Last-Event-ID`).
 * @returns the unsubscribe, and `snapshot`, settled once the current positions are sent
 * @throws what `notifications` throws when subscribing (the caller ends the connection)
 */
export function openChangeFeed(connection: ChangeFeedConnection): { unsubscribe: () => void; snapshot: Promise<void> } {
  const { positions, send } = connection;
  const sent = new Map<string, number>();
  const frame = ({ projection, position }: ProjectionChange) => {
    if ((sent.get(projection) ?? -1) >= position) return;
    sent.set(projection, position);
    send(`id: ${position}\nevent: projection\ndata: ${JSON.stringify({ projection, position })}\n\n`);
  };
  // Live changes wait here while the snapshot of positions is read, so they come after it.
  let queued: ProjectionChange[] | undefined = positions ? [] : undefined;
  send('retry: 3000\n: connected\n\n');
  const unsubscribe = connection.notifications((change) => {
    if (queued) queued.push(change);
    else frame(change);
  });
  const snapshot = positions
    ? (async () => {
        try {
          for (const change of await positions()) frame(change);
        } catch (err) {
          connection.onPositionsError(err);
        }
        const pending = queued ?? [];
        queued = undefined;
        for (const change of pending) frame(change);
      })()
    : Promise.resolve();
  return { unsubscribe, snapshot };
}
