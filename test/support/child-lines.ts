// Follows a child process the fault tests drive: its stdout a line at a time (a chunk can end mid-line, so the rest
// waits for the next one), each line split into its space-separated words, and everything it wrote to stderr.
import type { ChildProcess } from 'node:child_process';

export function followChild(proc: ChildProcess, onLine: (words: string[]) => void): { readonly stderr: string } {
  let buffered = '';
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line.split(' '));
  });
  return {
    get stderr() {
      return stderr;
    },
  };
}
