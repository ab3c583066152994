// The decorators are typed by their definition: a handler whose execute takes another message does not compile.
import { type CommandOf, defineCommand, defineQuery, type PayloadOf } from 'chronicle-es';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type ChronicleCommandHandler, CommandHandler, handlerMarkOf, QueryHandler } from './handler-decorators.js';

const Rename = defineCommand('Rename', z.object({ id: z.string(), name: z.string() }));
const Count = defineCommand('Count', z.object({ n: z.number() }));
const GetName = defineQuery('GetName', z.object({ id: z.string() }), { result: z.object({ name: z.string() }) });

describe('CommandHandler / QueryHandler', () => {
  it('marks the class with its definition, and the handler is typed by it', () => {
    @CommandHandler(Rename)
    class RenameHandler implements ChronicleCommandHandler<typeof Rename> {
      async execute(command: CommandOf<typeof Rename>) {
        expectTypeOf(command.data).toEqualTypeOf<{ id: string; name: string }>();
        return { streamId: command.data.id, version: 1, position: 1 };
      }
    }
    @QueryHandler(GetName)
    class GetNameHandler {
      execute(payload: PayloadOf<typeof GetName>) {
        return { name: payload.id };
      }
    }
    expect(handlerMarkOf(RenameHandler)).toEqual({ kind: 'command', definition: Rename });
    expect(handlerMarkOf(GetNameHandler)).toEqual({ kind: 'query', definition: GetName });
    expect(handlerMarkOf(class Plain {})).toBeUndefined();
  });

  it('does not compile for an execute taking another command, or a query answer of the wrong shape', () => {
    // @ts-expect-error execute takes Count's command, not Rename's
    @CommandHandler(Rename)
    class Wrong {
      async execute(command: CommandOf<typeof Count>) {
        return { streamId: String(command.data.n), version: 1, position: 1 };
      }
    }
    // @ts-expect-error GetName answers { name: string }
    @QueryHandler(GetName)
    class WrongResult {
      execute(_payload: PayloadOf<typeof GetName>) {
        return { title: 'x' };
      }
    }
    expect(handlerMarkOf(Wrong)?.definition).toBe(Rename);
    expect(handlerMarkOf(WrongResult)?.definition).toBe(GetName);
  });
});
