// SQLite handlers and queries written against the portable SqlReadTx/SqlReader run on this store unchanged.
import type { SqlReader, SqlReadTx } from 'chronicle-es';
import { describe, expectTypeOf, it } from 'vitest';
import type { SqliteReader, SqliteReadTx } from './sqlite-read-store.js';

describe('SQLite read-store types', () => {
  it('SqliteReadTx is a SqlReadTx and SqliteReader a SqlReader, of the sqlite dialect', () => {
    expectTypeOf<SqliteReadTx>().toExtend<SqlReadTx>();
    expectTypeOf<SqliteReader>().toExtend<SqlReader>();
    expectTypeOf<SqliteReadTx['dialect']>().toEqualTypeOf<'sqlite'>();
    expectTypeOf<SqliteReader['dialect']>().toEqualTypeOf<'sqlite'>();
    // What the check guards against: a tx without the dialect is not portable.
    expectTypeOf<Omit<SqliteReadTx, 'dialect'>>().not.toExtend<SqlReadTx>();
  });
});
