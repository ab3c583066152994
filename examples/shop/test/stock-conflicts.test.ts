// The stock cases of stock-conflicts.ts in memory.
import { createInMemoryEventStore } from 'chronicle-es';
import { describeStockConflicts } from './stock-conflicts.js';

describeStockConflicts('in memory', async () => {
  const store = createInMemoryEventStore();
  return { store, close: () => store.close() };
});
