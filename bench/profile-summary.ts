// `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [--exclude <regex>]`: what bounds a workload.
// Prints self time by function, self time by package or source file, and inclusive time of our own functions (src/,
// examples/, bench/): the share of samples with that function anywhere on the stack, each sample counted once.
// `--exclude` drops samples with a matching frame (`name file:line`) on the stack, e.g. `projector` to leave the
// projector's catch-up out of a read profile. Sources run through tsx are one minified line each: their positions
// are mapped back to TypeScript lines through the source maps tsx keeps in its cache (newest entry per file).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

type Frame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type Node = { id: number; callFrame: Frame; children?: number[] };
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

const args = process.argv.slice(2);
const excludeAt = args.indexOf('--exclude');
const exclude = excludeAt === -1 ? undefined : new RegExp(args.splice(excludeAt, 2)[1]);
const [file, topArg] = args;
if (!file) {
  console.error('usage: profile-summary <file.cpuprofile> [top] [--exclude <regex>]');
  process.exit(2);
}
const top = Number(topArg ?? 25);

// --- tsx source maps: generated (line, column) → original line, per source file.
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
type Segment = [column: number, line: number];
function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let sourceLine = 0;
  for (const text of mappings.split(';')) {
    const segments: Segment[] = [];
    let column = 0;
    for (const segment of text.split(',')) {
      if (!segment) continue;
      const values: number[] = [];
      for (let i = 0, shift = 0, value = 0; i < segment.length; i++) {
        const digit = B64.indexOf(segment[i]);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      if (values.length >= 4) {
        sourceLine += values[2];
        segments.push([column, sourceLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}
const maps = new Map<string, { mtime: number; lines: Segment[][] }>();
try {
  const dir = join(tmpdir(), `tsx-${userInfo().uid}`);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const mtime = statSync(path).mtimeMs;
    const entry = JSON.parse(readFileSync(path, 'utf8')) as { map?: { sources?: string[]; mappings?: string } };
    const source = entry.map?.sources?.[0];
    if (!source || !entry.map?.mappings || (maps.get(source)?.mtime ?? 0) > mtime) continue;
    maps.set(source, { mtime, lines: decodeMappings(entry.map.mappings) });
  }
} catch {
  // No tsx cache: positions stay as generated.
}
function originalLine(frame: Frame): number {
  const map = maps.get(frame.url.replace(/^file:\/\//, ''));
  const segments = map?.lines[frame.lineNumber];
  if (!segments?.length) return frame.lineNumber + 1;
  let found = segments[0];
  for (const segment of segments) if (segment[0] <= frame.columnNumber) found = segment;
  return found[1] + 1;
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const OURS = /\/(src|examples|bench)\//;
const shortUrl = (url: string) => url.replace(/^.*\/(node_modules\/(?:@[^/]+\/)?[^/]+|src|examples|bench)\//, '$1/');
const keys = new Map<Frame, string>();
const keyOf = (f: Frame) => {
  let key = keys.get(f);
  if (key === undefined) {
    key = `${f.functionName || '(anonymous)'} ${f.url ? shortUrl(f.url) : ''}:${originalLine(f)}`;
    keys.set(f, key);
  }
  return key;
};
/** A package (node_modules/x), one of our files, node's internals, or the (program)/(garbage collector) pseudo-frames. */
const placeOf = (f: Frame) => {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.url);
  if (pkg) return `node_modules/${pkg[1]}`;
  if (OURS.test(f.url)) return shortUrl(f.url);
  return f.url.startsWith('node:') ? 'node:internal' : f.url;
};

const self = new Map<string, number>();
const place = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  const node = byId.get(id);
  if (!node) return;
  if (exclude) {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (exclude.test(keyOf(byId.get(at)!.callFrame))) return;
    }
  }
  total += dt;
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + dt);
  add(self, keyOf(node.callFrame));
  add(place, placeOf(node.callFrame));
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (!OURS.test(frame.url)) continue;
    const key = keyOf(frame);
    if (!seen.has(key)) {
      seen.add(key);
      add(inclusive, key);
    }
  }
});

const print = (title: string, map: Map<string, number>, count: number) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
};
console.log(`${(total / 1000).toFixed(0)} ms sampled`);
print('self time by function', self, top);
print('self time by package / file', place, Math.min(top, 20));
print('inclusive time of our functions', inclusive, top);
