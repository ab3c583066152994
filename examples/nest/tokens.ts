// The example's own injection tokens (beside chronicle-es/nest's COMMAND_BUS, QUERY_BUS, PROJECTOR).

/** The SQLite event store the handlers decide on. */
export const EVENT_STORE = Symbol('shop-nest.eventStore');
/** The read store's reader of the orders projection. */
export const ORDERS_READER = Symbol('shop-nest.ordersReader');
/** The opened stores, shared by the Chronicle module and the handlers. */
export const STORES = Symbol('shop-nest.stores');
