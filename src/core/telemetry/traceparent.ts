// W3C trace context (`traceparent`) as plain strings, so HTTP, event metadata and the OpenTelemetry bridge agree on
// one form without core importing a tracing library.

/** A parsed `traceparent`: trace id, parent span id and the sampled flag. */
export type TraceParent = { traceId: string; spanId: string; flags: number };

// Version 00 only (the one the spec defines); all-zero ids are invalid by the spec.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The trace context of a W3C `traceparent` value, or undefined when it is not a valid version-00 one. */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length !== 55) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], flags: Number.parseInt(m[3], 16) };
}

/** The `traceparent` value of a span. */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}
