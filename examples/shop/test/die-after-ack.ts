// Test-only preload for the Shop server (`--import`): SIGKILLs the process the instant its Nth command
// acknowledgement has been handed to the socket, printing that acknowledgement to stderr first. A kill from
// outside lands at some random moment; this one lands exactly where an append acknowledged before its COMMIT
// would be lost.
import { writeSync } from 'node:fs';
import { ServerResponse } from 'node:http';

const dieAfter = Number(process.env.SHOP_TEST_DIE_AFTER_ACKS);
if (!Number.isSafeInteger(dieAfter) || dieAfter < 1) throw new Error('set SHOP_TEST_DIE_AFTER_ACKS to a positive integer');

let acks = 0;
const end = ServerResponse.prototype.end;
ServerResponse.prototype.end = function (this: ServerResponse, ...args: unknown[]) {
  const isAck = this.statusCode === 200 && this.req.method === 'POST' && this.req.url?.startsWith('/commands/') === true;
  if (isAck && ++acks === dieAfter) {
    const body = String(args[0]);
    // 'finish': the response has been written to the socket, so the client receives it even though we die now.
    this.once('finish', () => {
      writeSync(2, `die-after-ack ${body}\n`);
      process.kill(process.pid, 'SIGKILL');
    });
  }
  return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
} as typeof end;
