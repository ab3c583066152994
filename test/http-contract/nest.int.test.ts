// The HTTP contract against the Nest module's routes (chronicle-es/nest): the contract's handlers as Nest providers,
// a Nest app on the express platform built with @nestjs/testing, over a real socket.
import { Inject, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type CommandContext, type CommandOf, createInMemoryEventStore, type PayloadOf } from 'chronicle-es';
import {
  type ChronicleCommandHandler,
  ChronicleExceptionFilter,
  ChronicleModule,
  CommandHandler,
  QueryHandler,
} from 'chronicle-es/nest';
import { AddNote, type ContractApp, GetNote, RefuseNote } from './contract-app.js';
import { describeHttpContract } from './http-contract.js';

const APP = Symbol('contract app');

@Injectable()
@CommandHandler(AddNote)
class AddNoteHandler implements ChronicleCommandHandler<typeof AddNote> {
  constructor(@Inject(APP) private readonly app: ContractApp) {}
  execute(command: CommandOf<typeof AddNote>, context: CommandContext) {
    return this.app.handlers.AddNote(command, context);
  }
}

@Injectable()
@CommandHandler(RefuseNote)
class RefuseNoteHandler {
  constructor(@Inject(APP) private readonly app: ContractApp) {}
  execute(command: CommandOf<typeof RefuseNote>, context: CommandContext) {
    return this.app.handlers.RefuseNote(command, context);
  }
}

@Injectable()
@QueryHandler(GetNote)
class GetNoteHandler {
  constructor(@Inject(APP) private readonly app: ContractApp) {}
  execute(payload: PayloadOf<typeof GetNote>) {
    return this.app.handlers.GetNote(payload, {}) as Promise<{ noteId: string }>;
  }
}

describeHttpContract({
  name: 'Nest (express platform)',
  async start(app) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChronicleModule.forRoot({
          eventStore: createInMemoryEventStore(),
          queryBus: { waitForPosition: app.waitForPosition },
          authenticate: app.authenticate,
          http: { notifications: app.notifications, events: { positions: app.positions } },
        }),
      ],
      providers: [{ provide: APP, useValue: app }, AddNoteHandler, RefuseNoteHandler, GetNoteHandler],
    }).compile();
    // Without express's JSON parser the routes read the body themselves: authentication before the body, as Fastify.
    const nest = moduleRef.createNestApplication({ bodyParser: false, logger: false });
    nest.useGlobalFilters(new ChronicleExceptionFilter());
    await nest.listen(0, '127.0.0.1');
    const { port } = nest.getHttpServer().address() as { port: number };
    return { url: `http://127.0.0.1:${port}`, close: () => nest.close() };
  },
});
