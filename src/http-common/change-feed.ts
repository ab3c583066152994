// The read-model change feed every adapter's `GET /events/stream` serves.

/** A read-model change: a projection has passed a position. */
export type ProjectionChange = { projection: string; position: number };

/** Subscribes a listener to read-model changes; returns the unsubscribe function. */
export type NotificationSource = (listener: (change: ProjectionChange) => void) => () => void;

/** The current position of every projection (e.g. from `projector.status()`). */
export type PositionSource = () => readonly ProjectionChange[] | Promise<readonly ProjectionChange[]>;
