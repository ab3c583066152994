// The request-scoped view of the buses: principal and correlation id taken from the Nest request.
import { Inject, Injectable, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import type { CommandResult, DispatchOptions, Principal, QueryOptions } from 'chronicle-es';
import { correlationIdFrom, type HeaderMap, idempotencyKeyFrom } from '../http-common/index.js';
import type { ChronicleRuntime } from './chronicle-runtime.js';
import { CHRONICLE_RUNTIME } from './tokens.js';

type NestRequest = { headers: HeaderMap };

/**
 * Injected per request: `dispatch` and `run` pass the request's principal (from the module's `authenticate`), its
 * correlation id (`X-Correlation-Id`, or a fresh one) and its `Idempotency-Key` to the buses, as the HTTP routes do.
 */
@Injectable({ scope: Scope.REQUEST })
export class ChronicleRequest {
  readonly correlationId: string;
  private principalPromise: Promise<Principal | undefined> | undefined;

  constructor(
    @Inject(REQUEST) private readonly request: NestRequest,
    @Inject(CHRONICLE_RUNTIME) private readonly runtime: ChronicleRuntime,
  ) {
    this.correlationId = correlationIdFrom(request.headers);
  }

  /** The request's principal; undefined when it carries no credentials. @throws UNAUTHENTICATED for bad credentials */
  principal(): Promise<Principal | undefined> {
    const authenticate = this.runtime.authenticate;
    this.principalPromise ??= Promise.resolve(authenticate ? authenticate({ headers: this.request.headers }) : undefined);
    return this.principalPromise;
  }

  /** Dispatches as this request's principal. @throws every code CommandBus.dispatch throws, and UNAUTHENTICATED */
  async dispatch(command: string, payload: unknown, options: DispatchOptions = {}): Promise<CommandResult> {
    const principal = await this.principal();
    return this.runtime.commandBus.dispatch(command, payload, {
      principal,
      correlationId: this.correlationId,
      idempotencyKey: idempotencyKeyFrom(this.request.headers, principal),
      ...options,
    });
  }

  /** Runs a query as this request's principal. @throws every code QueryBus.run throws, and UNAUTHENTICATED */
  async run(query: string, payload: unknown, options: QueryOptions = {}): Promise<unknown> {
    return this.runtime.queryBus.run(query, payload, {
      principal: await this.principal(),
      correlationId: this.correlationId,
      ...options,
    });
  }
}
