// Buses that route each dispatch to the bus of the principal's tenant: one app, a store (and read side) per tenant.
import type { CommandBus, DispatchOptions } from '../command-bus.js';
import { ChronicleError } from '../errors.js';
import { createHandlerRegistry } from '../handler-registry.js';
import type { CommandDefinition, Principal, QueryDefinition } from '../messages.js';
import type { QueryBus, QueryOptions } from '../query-bus.js';
import type { TenantRegistry } from './tenant-registry.js';

/**
 * The tenant a principal acts for. @throws UNAUTHENTICATED without a principal, FORBIDDEN for a principal without a
 * tenant (on a multi-tenant app nothing is outside a tenant)
 */
export function tenantOf(principal: Principal | undefined, what: string): string {
  if (principal === undefined) throw new ChronicleError('UNAUTHENTICATED', `authentication required to ${what}`);
  if (principal.tenantId === undefined) {
    throw new ChronicleError('FORBIDDEN', `principal ${principal.id} has no tenant, needed to ${what}`, {
      details: { principal: principal.id, roles: principal.roles },
    });
  }
  return principal.tenantId;
}

/** The tenants a tenant command bus routes to, and the commands it serves. */
export type TenantCommandBusOptions<T extends { commandBus: CommandBus }> = {
  /** Each tenant's resources; its `commandBus` has the handlers of `commands`, over that tenant's store. */
  tenants: TenantRegistry<T>;
  /** The commands every tenant's bus handles: what HTTP routes, checks roles against and lists in OpenAPI. */
  commands: readonly CommandDefinition[];
};

/**
 * A command bus that sends each command to the bus of the principal's tenant, so it is decided on and written to that
 * tenant's store only. `register` is refused: handlers are registered on each tenant's bus, in `open`.
 * @throws INVALID_ARGUMENT a command listed twice; per dispatch UNKNOWN_MESSAGE, UNAUTHENTICATED, FORBIDDEN (no
 *   tenant), INVALID_ARGUMENT (a malformed tenant id), NOT_FOUND (an unknown tenant), CLOSED, and what the tenant's
 *   bus throws
 */
export function createTenantCommandBus<T extends { commandBus: CommandBus }>(options: TenantCommandBusOptions<T>): CommandBus {
  const known = createHandlerRegistry<CommandDefinition, true>('command');
  for (const definition of options.commands) known.add(definition, true);
  const bus: CommandBus = {
    register: refuseRegister,
    async dispatch(command: string | CommandDefinition, payload: unknown, dispatchOptions: DispatchOptions = {}) {
      const { definition } = known.require(typeof command === 'string' ? command : command.name);
      const tenantId = tenantOf(dispatchOptions.principal, `send ${definition.name}`);
      const { commandBus } = await options.tenants.get(tenantId);
      return commandBus.dispatch(definition.name, payload, dispatchOptions);
    },
    definition: known.definition,
    definitions: known.definitions,
  };
  return bus;
}

/** The tenants a tenant query bus routes to, and the queries it serves. */
export type TenantQueryBusOptions<T extends { queryBus: QueryBus }> = {
  /** Each tenant's resources; its `queryBus` reads that tenant's read store and waits on that tenant's projector. */
  tenants: TenantRegistry<T>;
  /** The queries every tenant's bus runs. */
  queries: readonly QueryDefinition<string, any, any>[];
};

/**
 * A query bus that runs each query on the bus of the principal's tenant: it reads that tenant's read store, and a
 * `minPosition` waits for that tenant's projector (positions of different tenants' stores are not comparable).
 * @throws INVALID_ARGUMENT a query listed twice; per run UNKNOWN_MESSAGE, UNAUTHENTICATED, FORBIDDEN (no tenant),
 *   INVALID_ARGUMENT, NOT_FOUND (an unknown tenant), CLOSED, and what the tenant's bus throws
 */
export function createTenantQueryBus<T extends { queryBus: QueryBus }>(options: TenantQueryBusOptions<T>): QueryBus {
  const known = createHandlerRegistry<QueryDefinition, true>('query');
  for (const definition of options.queries) known.add(definition, true);
  const bus: QueryBus = {
    register: refuseRegister,
    async run(query: string | QueryDefinition, payload: unknown, queryOptions: QueryOptions = {}): Promise<any> {
      const { definition } = known.require(typeof query === 'string' ? query : query.name);
      const tenantId = tenantOf(queryOptions.principal, `run ${definition.name}`);
      const { queryBus } = await options.tenants.get(tenantId);
      return queryBus.run(definition.name, payload, queryOptions);
    },
    definition: known.definition,
    definitions: known.definitions,
  };
  return bus;
}

function refuseRegister(): never {
  throw new ChronicleError('INVALID_ARGUMENT', "a tenant bus routes to each tenant's bus: register handlers there, in open");
}
