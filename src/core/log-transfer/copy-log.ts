// Copy: one store's log into another, through the same lines an export file holds, without a file.
import type { EventStore } from '../event-store.js';
import { exportLog } from './export-log.js';
import { type ImportLogOptions, type ImportLogResult, importLog } from './import-log.js';

/**
 * Moves `from`'s whole log into `to` (exportLog piped into importLog, a page at a time): same events, ids, order,
 * stream versions, metadata, tags and deleted streams. Resumable like importLog: run it again after an interruption
 * and it goes on after the last batch `to` holds. Stop the writers of both stores first.
 * @throws the codes of exportLog (reading `from`) and importLog (writing `to`)
 */
export function copyLog(from: EventStore, to: EventStore, options: ImportLogOptions = {}): Promise<ImportLogResult> {
  const lines = exportLog(from, { pageSize: options.pageSize, settleTimeoutMs: options.settleTimeoutMs });
  return importLog(to, lines, options);
}
