// What store adapters and chronicle/http report on Chronicle's channels (see channels.ts), each a no-op while nothing
// listens.
import { appendGroupChannel, consistencyWaitChannel, httpRequestChannel } from './channels.js';
import type { AppendGroupSample, ConsistencyWaitSample, HttpRequestTrace } from './trace-types.js';

/** Reports one group-commit transaction of `appends` appends (a store adapter calls it after each commit). */
export function reportAppendGroup(backend: string, appends: number): void {
  if (appendGroupChannel.hasSubscribers) appendGroupChannel.publish({ backend, appends } satisfies AppendGroupSample);
}

/** Reports how one read-your-writes wait ended. */
export function reportConsistencyWait(outcome: ConsistencyWaitSample['outcome'], seconds: number): void {
  if (consistencyWaitChannel.hasSubscribers) consistencyWaitChannel.publish({ outcome, seconds } satisfies ConsistencyWaitSample);
}

/** Whether anything listens to HTTP request traces: chronicle/http builds a trace only then. */
export function httpRequestTraced(): boolean {
  return httpRequestChannel.hasSubscribers;
}

/** Reports an HTTP request's start (its first hook); a tracer sets `traceparent` to its server span's. */
export function reportHttpRequestStart(trace: HttpRequestTrace): void {
  httpRequestChannel.start.publish(trace);
}

/** Reports an HTTP request's end, with its `statusCode` set. */
export function reportHttpRequestEnd(trace: HttpRequestTrace): void {
  httpRequestChannel.asyncEnd.publish(trace);
}
