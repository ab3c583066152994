// The app every HTTP adapter serves in the contract suite: a few commands and queries, an API key per role, a read
// side whose position the test moves by hand, and a change feed it can fire.
import {
  ChronicleError,
  type CommandBus,
  type CommandHandler,
  type CommandOf,
  createCommandBus,
  createInMemoryEventStore,
  createQueryBus,
  defineCommand,
  defineQuery,
  type PayloadOf,
  type QueryBus,
  type QueryBusOptions,
  type QueryHandler,
} from 'chronicle-es';
import {
  type Authenticator,
  createApiKeyAuthenticator,
  type NotificationSource,
  type ProjectionChange,
} from 'chronicle-es/fetch';
import { z } from 'zod';

export const KEYS = { writer: 'contract-writer-key-0123', reader: 'contract-reader-key-0123' } as const;

export const AddNote = defineCommand(
  'AddNote',
  z.object({ noteId: z.string().min(1).max(40), text: z.string().max(200), tags: z.array(z.string()).optional() }),
  { roles: ['writer'] },
);
export const RefuseNote = defineCommand('RefuseNote', z.object({ noteId: z.string() }), { roles: ['writer'] });
export const GetNote = defineQuery('GetNote', z.object({ noteId: z.string(), limit: z.number().int().optional() }), {
  roles: ['writer', 'reader'],
});

/** What an adapter under test is given to serve. */
export type ContractApp = {
  /** The handlers, for an adapter that registers them its own way (Nest providers). */
  handlers: {
    AddNote: CommandHandler<CommandOf<typeof AddNote>>;
    RefuseNote: CommandHandler<CommandOf<typeof RefuseNote>>;
    GetNote: QueryHandler<PayloadOf<typeof GetNote>>;
  };
  waitForPosition: NonNullable<QueryBusOptions['waitForPosition']>;
  commandBus: CommandBus;
  queryBus: QueryBus;
  authenticate: Authenticator;
  notifications: NotificationSource;
  positions: () => ProjectionChange[];
  /** Moves the read side to `position` and tells the change feed. */
  project(position: number): void;
};

export function createContractApp(): ContractApp {
  const store = createInMemoryEventStore();
  let projected = 0;
  const listeners = new Set<(change: ProjectionChange) => void>();
  const handlers: ContractApp['handlers'] = {
    async AddNote(command) {
      // 'no_stream': a second AddNote for the same id is a version conflict (409).
      const result = await store.append(`note-${command.data.noteId}`, [{ type: 'NoteAdded', data: command.data }], {
        expectedVersion: 'no_stream',
      });
      return { streamId: result.streamId, version: result.version, position: result.position };
    },
    async RefuseNote(command) {
      throw new ChronicleError('DOMAIN_RULE', `note ${command.data.noteId} may not be refused twice`);
    },
    async GetNote(payload) {
      const events = await store.readStream(`note-${payload.noteId}`);
      if (events.length === 0) throw new ChronicleError('NOT_FOUND', `no note ${payload.noteId}`);
      return { noteId: payload.noteId, text: (events[0].data as { text: string }).text, limit: payload.limit ?? null };
    },
  };
  const waitForPosition: ContractApp['waitForPosition'] = async (position, { timeoutMs }) => {
    const deadline = Date.now() + timeoutMs;
    while (projected < position) {
      if (Date.now() >= deadline) throw new ChronicleError('TIMEOUT', `notes did not reach ${position}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const commandBus = createCommandBus().register(AddNote, handlers.AddNote).register(RefuseNote, handlers.RefuseNote);
  const queryBus = createQueryBus({ waitForPosition }).register(GetNote, handlers.GetNote);
  return {
    handlers,
    waitForPosition,
    commandBus,
    queryBus,
    authenticate: createApiKeyAuthenticator({
      [KEYS.writer]: { id: 'writer-1', roles: ['writer'] },
      [KEYS.reader]: { id: 'reader-1', roles: ['reader'] },
    }),
    notifications: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    positions: () => [{ projection: 'notes', position: projected }],
    project(position) {
      projected = position;
      for (const listener of listeners) listener({ projection: 'notes', position });
    },
  };
}
