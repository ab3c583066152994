// Injection tokens of the Chronicle module: inject them with `@Inject(TOKEN)` (no emitted decorator metadata needed).

/** The module's `CommandBus`. */
export const COMMAND_BUS = Symbol.for('chronicle.nest.commandBus');
/** The module's `QueryBus`. */
export const QUERY_BUS = Symbol.for('chronicle.nest.queryBus');
/** The module's `Projector`, when projections were given (else undefined). */
export const PROJECTOR = Symbol.for('chronicle.nest.projector');
/** The resolved ChronicleModuleOptions. */
export const CHRONICLE_OPTIONS = Symbol.for('chronicle.nest.options');
/** Internal: the runtime built from the options (buses, projector, fetch handler). */
export const CHRONICLE_RUNTIME = Symbol.for('chronicle.nest.runtime');
