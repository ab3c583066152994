// A Lua script run by its SHA1 (EVALSHA), sent in full only when the server does not have it yet: each of the store's
// atomic steps is one such script, so a batch and its checkpoint cost one round trip.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isNoScript } from './redis-error.js';

/** One Lua script; `run` sends it by SHA1 and falls back to EVAL (which also caches it) on NOSCRIPT. */
export class RedisScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script; rejects with the client's error (translate it with redisError). */
  async run(client: Redis, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    // One array (the client flattens it), never spread into the call: a big batch has more arguments than a call takes.
    const all = keys.concat(args);
    try {
      return await client.evalsha(this.sha, keys.length, all);
    } catch (err) {
      // NOSCRIPT means the script did not run at all, so sending it again cannot apply anything twice.
      if (!isNoScript(err)) throw err;
      return client.eval(this.lua, keys.length, all);
    }
  }
}
