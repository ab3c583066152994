// Wrong uses of the typed API that must not compile against the published declarations. Each `@ts-expect-error`
// fails the pack test when its line starts compiling ("Unused '@ts-expect-error' directive"). Keep each wrong call
// short enough that the formatter leaves it on the one line after its directive.
import { type Decider, defineCommand, isChronicleError } from 'chronicle-es';
import { createServer } from 'chronicle-es/http';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { deciderSpec } from 'chronicle-es/testing';
import { z } from 'zod';

// @ts-expect-error a message name is a string
defineCommand(42, z.object({}));

// @ts-expect-error the schema is a zod schema, not a plain object
defineCommand('Ping', { type: 'object' });

// @ts-expect-error the event store needs a path
createSqliteEventStore({});

// @ts-expect-error the event store refuses synchronous 'off' (an acknowledged append must survive kill -9)
createSqliteEventStore({ path: ':memory:', synchronous: 'off' });

// @ts-expect-error serve is 'all', 'write' or 'read'
void createServer({ serve: 'everything' });

// @ts-expect-error error codes are a closed set
isChronicleError(new Error('x'), 'NOT_A_CODE');

type Command = { type: 'Ping'; data: { id: string } };
type Event = { type: 'Ponged'; data: { id: string } };
declare const pinger: Decider<Command, Event, null>;
const scenario = deciderSpec(pinger)
  .given([])
  .when({ type: 'Ping', data: { id: 'a' } });

// @ts-expect-error a scenario's expected events are the decider's events
scenario.then([{ type: 'Pinged', data: { id: 'a' } }]);
