#!/usr/bin/env node
// The `chronicle` bin: runs the command line and exits with its code.
import { runCli } from './program.js';

// A reader that stops early (`chronicle export | head`) is not a failure of the export.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
// Stores are closed by now; exiting here also ends what a driver may still hold open (a reconnecting socket).
process.exitCode = code;
setImmediate(() => process.exit(code)).unref();
