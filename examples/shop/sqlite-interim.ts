// Until the SQLite read store's tx and reader carry `dialect: 'sqlite'` (branch pgread): the store seen as the portable
// one it already is in every other respect. Goes when that lands.
import type { SqliteReadStore } from 'chronicle-es/sqlite';
import type { ShopReadStore } from './app.js';

export const portable = (store: SqliteReadStore): ShopReadStore => store as unknown as ShopReadStore;
