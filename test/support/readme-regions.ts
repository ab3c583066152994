// README blocks that quote code: a ```ts block whose first line is `// <file>#<region>` must be that region of that
// file (between `// #region <name>` and `// #endregion <name>`) verbatim. Shared by the tests that check them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root, where README.md is. */
export const repositoryRoot = join(import.meta.dirname, '../..');

export type ReadmeRegion = { file: string; region: string; code: string };

/** The README's quoting blocks whose file path matches `files` (a regular-expression source, no groups), in order. */
export function readmeRegions(files: string): ReadmeRegion[] {
  const readme = readFileSync(join(repositoryRoot, 'README.md'), 'utf8');
  const blocks = new RegExp(`\`\`\`ts\\n\\/\\/ (${files})#([\\w-]+)\\n([\\s\\S]*?)\`\`\``, 'g');
  return [...readme.matchAll(blocks)].map((m) => ({ file: m[1], region: m[2], code: m[3] }));
}

/** The text of `region` in `file` (relative to the root). @throws when the file has no such region */
export function sourceRegion(file: string, region: string): string {
  const source = readFileSync(join(repositoryRoot, file), 'utf8');
  const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}\\n`));
  if (!match) throw new Error(`${file} has no region ${region}`);
  return dedent(match[1]);
}

// A region inside a function is quoted without its indentation, so the README's closing fence starts its line (an
// indented one is no fence to CommonMark, and the block would run on into the prose).
function dedent(code: string): string {
  const lines = code.split('\n');
  const indents = lines.filter((line) => line.trim() !== '').map((line) => line.length - line.trimStart().length);
  const strip = indents.length === 0 ? 0 : Math.min(...indents);
  return lines.map((line) => line.slice(Math.min(strip, line.length - line.trimStart().length))).join('\n');
}
