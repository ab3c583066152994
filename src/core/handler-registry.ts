// The one handler per message name that both buses keep.
import { ChronicleError } from './errors.js';

export type HandlerRegistry<D extends { readonly name: string }, H> = {
  /** @throws INVALID_ARGUMENT when the name already has a handler */
  add(definition: D, handler: H): void;
  /** @throws UNKNOWN_MESSAGE when nothing is registered under `name` */
  require(name: string): { definition: D; handler: H };
  definition(name: string): D | undefined;
  definitions(): D[];
};

/** Creates a registry whose errors name the kind of message (`command`, `query`). */
export function createHandlerRegistry<D extends { readonly name: string }, H>(kind: string): HandlerRegistry<D, H> {
  const entries = new Map<string, { definition: D; handler: H }>();
  return {
    add(definition, handler) {
      if (entries.has(definition.name))
        throw new ChronicleError('INVALID_ARGUMENT', `${kind} ${definition.name} already has a handler`);
      entries.set(definition.name, { definition, handler });
    },
    require(name) {
      const entry = entries.get(name);
      if (!entry) throw new ChronicleError('UNKNOWN_MESSAGE', `unknown ${kind} ${JSON.stringify(name)}`, { details: { name } });
      return entry;
    },
    definition: (name) => entries.get(name)?.definition,
    definitions: () => [...entries.values()].map((e) => e.definition),
  };
}
