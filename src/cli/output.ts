// What the CLI prints: a result on stdout (text, or one JSON document with --json), progress on stderr (a bar on a
// terminal, plain lines otherwise), and a failure as one line on stderr.
import { once } from 'node:events';
import { isChronicleError } from 'chronicle-es';
import cliProgress from 'cli-progress';

/** Where output goes; the real process's streams, or a test's. */
export type Streams = {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
};

/** A long operation's progress: done of total, with rate (events/s) and ETA worked out here. */
export interface Progress {
  update(done: number, total: number): void;
  /** Ends the bar (or prints the last line). */
  stop(): void;
}

// Plain progress lines at most this often: a log file or CI output gets a line a second, not one per batch.
const LINE_EVERY_MS = 1000;

export class Output {
  constructor(
    readonly json: boolean,
    private readonly streams: Streams,
  ) {}

  /** Prints a command's result: `text` lines, or `data` as one line of JSON with --json. */
  result(data: unknown, text: string | readonly string[]): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify(data)}\n`);
    else for (const line of typeof text === 'string' ? [text] : text) this.streams.stdout.write(`${line}\n`);
  }

  /** Writes one line to stdout as it is (a streamed record: an NDJSON line, an event being tailed). */
  line(text: string): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** Writes chunks to stdout as they come, waiting whenever stdout is full. */
  async stream(chunks: AsyncIterable<string>): Promise<void> {
    const out = this.streams.stdout;
    for await (const chunk of chunks) {
      if (!out.write(chunk)) await once(out, 'drain');
    }
  }

  /** A note for the operator on stderr (never mixed into the result). */
  note(text: string): void {
    if (this.json) this.streams.stderr.write(`${JSON.stringify({ note: text })}\n`);
    else this.streams.stderr.write(`${text}\n`);
  }

  /** Prints a failure as one line on stderr. */
  failure(err: unknown): void {
    const code = isChronicleError(err) ? err.code : undefined;
    const message = oneLine(err instanceof Error ? err.message : String(err));
    if (this.json) this.streams.stderr.write(`${JSON.stringify({ error: { ...(code && { code }), message } })}\n`);
    else this.streams.stderr.write(`error: ${message}\n`);
  }

  /**
   * Progress of `label` (events, by default): a bar on stderr when both streams are terminals and --json is off,
   * plain lines on stderr otherwise.
   */
  progress(label: string, options: { unit?: string; fromZero?: boolean } = {}): Progress {
    const unit = options.unit ?? 'events';
    // A transfer counts from nothing at its start; a rebuild being followed counts from where it was first seen.
    let base: { at: number; done: number } | undefined = options.fromZero ? { at: Date.now(), done: 0 } : undefined;
    const rateOf = (done: number) => {
      if (!base) return 0;
      const seconds = (Date.now() - base.at) / 1000;
      return seconds > 0 ? Math.round((done - base.done) / seconds) : 0;
    };
    const etaOf = (done: number, total: number) => {
      const rate = rateOf(done);
      return rate > 0 ? Math.max(0, Math.round((total - done) / rate)) : undefined;
    };
    if (!this.json && this.streams.stdout.isTTY && this.streams.stderr.isTTY) {
      const bar = new cliProgress.SingleBar(
        {
          stream: this.streams.stderr,
          format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {etaText}`,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      let begun = false;
      return {
        update(done, total) {
          base ??= { at: Date.now(), done };
          const eta = etaOf(done, total);
          const payload = { rate: rateOf(done), etaText: eta === undefined ? '-' : `${eta}s` };
          if (!begun) {
            bar.start(Math.max(total, 1), done, payload);
            begun = true;
          } else {
            bar.setTotal(Math.max(total, 1));
            bar.update(done, payload);
          }
        },
        stop: () => bar.stop(),
      };
    }
    let lastLine = 0;
    let last: { done: number; total: number } | undefined;
    let printed: { done: number; total: number } | undefined;
    const print = (done: number, total: number) => {
      lastLine = Date.now();
      printed = { done, total };
      const rate = rateOf(done);
      const eta = etaOf(done, total);
      if (this.json) {
        this.streams.stderr.write(`${JSON.stringify({ progress: { label, done, total, rate, etaSeconds: eta ?? null } })}\n`);
      } else {
        const share = total > 0 ? ` (${Math.floor((100 * done) / total)}%)` : '';
        this.streams.stderr.write(
          `${label}: ${done}/${total} ${unit}${share}, ${rate} ${unit}/s, ETA ${eta === undefined ? '-' : `${eta}s`}\n`,
        );
      }
    };
    return {
      update(done, total) {
        base ??= { at: Date.now(), done };
        last = { done, total };
        if (Date.now() - lastLine >= LINE_EVERY_MS) print(done, total);
      },
      stop() {
        if (last && (last.done !== printed?.done || last.total !== printed?.total)) print(last.done, last.total);
      },
    };
  }
}

/** The first line of a message, without a stack: a failure is reported as one line. */
export function oneLine(message: string): string {
  const first = message.split('\n').find((line) => line.trim() !== '') ?? message;
  return first.trim();
}
