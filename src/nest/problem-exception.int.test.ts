// An app that keeps express's JSON body parser: its refusals (413, malformed JSON) and Nest's own 404 reach the client
// as chronicle-es/http's problems through ChronicleExceptionFilter; toHttpException keeps the problem as the body.
import type { AddressInfo } from 'node:net';
import { Controller, Get } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ChronicleError, createInMemoryEventStore, defineCommand } from 'chronicle-es';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type ChronicleCommandHandler,
  ChronicleExceptionFilter,
  ChronicleModule,
  CommandHandler,
  toHttpException,
} from './index.js';

const Note = defineCommand('Note', z.object({ text: z.string() }));

@CommandHandler(Note)
class NoteHandler implements ChronicleCommandHandler<typeof Note> {
  async execute() {
    return { streamId: 'note-1', version: 1, position: 1 };
  }
}

@Controller('own')
class OwnController {
  @Get('refuse')
  refuse() {
    throw toHttpException(new ChronicleError('DOMAIN_RULE', 'not today'));
  }
}

describe('ChronicleExceptionFilter with express body parsing on', () => {
  let close: () => Promise<void>;
  let url: string;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ChronicleModule.forRoot({ eventStore: createInMemoryEventStore(), http: {} })],
      controllers: [OwnController],
      providers: [NoteHandler],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalFilters(new ChronicleExceptionFilter());
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    close = () => app.close();
  });
  afterAll(() => close?.());

  const post = (body: string) =>
    fetch(`${url}/commands/Note`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('answers a parsed body as the routes would, and the parser refusals as problems', async () => {
    const ok = await post(JSON.stringify({ text: 'hi' }));
    expect(await ok.json()).toEqual({ ok: true, streamId: 'note-1', version: 1, position: 1 });
    const malformed = await post('{"text": ');
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await malformed.json()).toMatchObject({ code: 'MALFORMED_JSON', status: 400 });
    // express's default limit is 100 kB.
    const large = await post(JSON.stringify({ text: 'x'.repeat(200 * 1024) }));
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
  });

  it("answers Nest's own 404 and an application's toHttpException with the problem body", async () => {
    const missing = await fetch(`${url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', type: 'urn:chronicle:problem:route-not-found' });
    const refused = await fetch(`${url}/own/refuse`);
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ code: 'DOMAIN_RULE', detail: 'not today', correlationId: expect.any(String) });
  });
});
