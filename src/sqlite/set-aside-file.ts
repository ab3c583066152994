// Moves a SQLite file out of the way, with its -wal and -shm, so a fresh one can take its path.
import { existsSync, renameSync } from 'node:fs';
import { ChronicleError } from 'chronicle-es';

/**
 * Renames `path` (and `path-wal`, `path-shm` if present) to `<path>.<reason>-<timestamp>` (and its -wal, -shm),
 * keeping a damaged file for inspection. The WAL goes with it: left behind, it would be replayed into the fresh file.
 * Returns the new name, or undefined when there was nothing to move (no file, or `':memory:'`). The file must be closed.
 * @throws INVALID_ARGUMENT bad reason; STORE_ERROR when a rename fails
 */
export function setAsideFile(path: string, reason = 'corrupt', now = new Date()): string | undefined {
  assertAsideReason(reason);
  if (path === ':memory:' || path === '') return undefined;
  const aside = `${path}.${reason}-${now.toISOString().replace(/[:.]/g, '-')}`;
  let moved = false;
  // The WAL first: a crash between the renames must not leave a WAL at `path` for a fresh file to replay.
  for (const suffix of ['-wal', '-shm', '']) {
    if (!existsSync(path + suffix)) continue;
    try {
      renameSync(path + suffix, aside + suffix);
    } catch (err) {
      throw new ChronicleError('STORE_ERROR', `could not move ${path + suffix} aside: ${(err as Error).message}`, {
        cause: err,
        details: { path: path + suffix, aside: aside + suffix },
      });
    }
    if (suffix === '') moved = true;
  }
  return moved ? aside : undefined;
}

/** @throws INVALID_ARGUMENT unless `reason` is lower-case letters, digits and dashes (it becomes part of a file name) */
export function assertAsideReason(reason: string): void {
  if (typeof reason !== 'string' || !/^[a-z][a-z0-9-]*$/.test(reason)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `reason must be lower-case letters, digits and dashes, got ${JSON.stringify(reason)}`,
    );
  }
}
