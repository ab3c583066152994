// Damages a closed SQLite file the way a failing disk or a stray writer would, for tests of what notices it.
import { closeSync, openSync, statSync, writeSync } from 'node:fs';

const PAGE = 4096;

// Seeded, so a run that fails can be run again byte for byte.
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Writes random bytes over whole pages after the header page: by default the middle half of the file, or the
 * fraction of pages given (`from`, `to` in 0..1). Returns how many pages were overwritten. @throws when the file
 * has too few pages to damage anything but its header
 */
export function corruptPages(path: string, options: { from?: number; to?: number; seed?: number } = {}): number {
  const pages = Math.floor(statSync(path).size / PAGE);
  const first = Math.max(1, Math.floor(pages * (options.from ?? 0.25)));
  const last = Math.min(pages, Math.ceil(pages * (options.to ?? 0.75)));
  if (last <= first) throw new Error(`${path} has ${pages} pages: too few to corrupt past the header`);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes((last - first) * PAGE, options.seed ?? 0x5eed), 0, (last - first) * PAGE, first * PAGE);
  } finally {
    closeSync(fd);
  }
  return last - first;
}

/** Writes random bytes over the 100-byte database header, so SQLite no longer takes the file for a database. */
export function corruptHeader(path: string, seed = 0xbad): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes(100, seed), 0, 100, 0);
  } finally {
    closeSync(fd);
  }
}
