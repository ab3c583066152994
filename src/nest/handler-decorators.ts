// @CommandHandler(Def) / @QueryHandler(Def): mark a Nest provider as the handler the module registers on its bus.
import type {
  CommandContext,
  CommandDefinition,
  CommandOf,
  CommandResult,
  PayloadOf,
  Principal,
  QueryDefinition,
  ResultOf,
} from 'chronicle-es';

/** A provider handling one command: its payload typed by the definition. */
export interface ChronicleCommandHandler<D extends CommandDefinition = CommandDefinition> {
  execute(command: CommandOf<D>, context: CommandContext): Promise<CommandResult>;
}

/** A provider answering one query: payload and result typed by the definition. */
export interface ChronicleQueryHandler<D extends QueryDefinition<string, any, any> = QueryDefinition> {
  execute(payload: PayloadOf<D>, context: { principal?: Principal }): Promise<ResultOf<D>> | ResultOf<D>;
}

export type HandlerMark = { kind: 'command'; definition: CommandDefinition } | { kind: 'query'; definition: QueryDefinition };

// Keyed by class, not stored with reflect-metadata: no dependency on emitted metadata or a global polyfill.
const marks = new WeakMap<object, HandlerMark>();

/** The mark a class was given by CommandHandler or QueryHandler, if any. */
export function handlerMarkOf(type: unknown): HandlerMark | undefined {
  return typeof type === 'function' ? marks.get(type) : undefined;
}

type Constructor<T> = abstract new (...args: any[]) => T;

/**
 * Marks an `@Injectable()` class as the handler of `definition`; ChronicleModule registers it on its command bus at
 * module init. A class whose `execute` does not take the definition's command does not compile.
 * @throws INVALID_ARGUMENT at module init when two providers handle the same command (the bus refuses the second)
 */
export function CommandHandler<D extends CommandDefinition>(definition: D) {
  return <T extends Constructor<ChronicleCommandHandler<D>>>(target: T): T => {
    marks.set(target, { kind: 'command', definition });
    return target;
  };
}

/**
 * Marks an `@Injectable()` class as the handler of a query; registered on the module's query bus at module init.
 * @throws INVALID_ARGUMENT at module init when two providers answer the same query
 */
export function QueryHandler<D extends QueryDefinition<string, any, any>>(definition: D) {
  return <T extends Constructor<ChronicleQueryHandler<D>>>(target: T): T => {
    marks.set(target, { kind: 'query', definition: definition as QueryDefinition });
    return target;
  };
}
