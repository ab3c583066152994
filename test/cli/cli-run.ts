// Running the `chronicle` CLI in tests: in-process through runCli with captured streams, or as a real child process
// (node + tsx on src/cli/main.ts), each resolved with its exit code and output.
import { execFile, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/program.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = ['--conditions=chronicle-source', '--import', 'tsx', 'src/cli/main.ts'];

export type CliResult = { code: number; stdout: string; stderr: string };

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** The CLI in this process (what the bin runs, minus process.exit). */
export async function cli(...args: string[]): Promise<CliResult> {
  const out = sink();
  const err = sink();
  const code = await runCli(args, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** The CLI as a child process, as a user runs it. */
export function cliProcess(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...CLI, ...args], { cwd: root, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/** The CLI as a child process whose output is read as it comes (a tail, a rebuild being followed). */
export function spawnCli(...args: string[]) {
  return spawn(process.execPath, [...CLI, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The result's stdout as one JSON document (--json). */
export const json = (result: CliResult) => JSON.parse(result.stdout.trim());

/**
 * Asserts a failure the way the house wants one: a non-zero exit, and the reason as one `error:` line, the last on
 * stderr (notes such as "taken by" may come before it), with no stack trace. Returns that line.
 */
export function oneLineFailure(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  if (result.code === 0) throw new Error(`expected a failure, got exit 0: ${result.stdout}`);
  const errors = lines.filter((line) => line.startsWith('error:'));
  if (errors.length !== 1 || lines.at(-1) !== errors[0] || /\n\s+at /.test(result.stderr)) {
    throw new Error(`expected one error line, got:\n${result.stderr}`);
  }
  return errors[0];
}
