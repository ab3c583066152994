// What a decision spanning several streams returns.

/** Events per stream; an empty list still pins that stream at the version the decision read. */
export type StreamEvents = Array<{ streamId: string; events: readonly { type: string; data: unknown }[] }>;
