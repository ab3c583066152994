// Runs `npm start`'s command (examples/shop/main.ts) as a real process, for tests that kill, restart or damage it.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export type ShopProcess = { child: ChildProcess; url: string; port: number; logs: string[] };

/**
 * Spawns the Shop on port 0 over `dataDir` in development mode with one admin key, and resolves once it logs that it
 * listens. `logs` keeps every stdout line (also after start). `preload` modules are imported before main.ts.
 * @throws when the process exits or does not listen within `startTimeoutMs` (default 20 s), with its output so far
 */
export async function startShopProcess(options: {
  dataDir: string;
  adminKey: string;
  env?: NodeJS.ProcessEnv;
  preload?: readonly string[];
  startTimeoutMs?: number;
  /** Called with the child as soon as it is spawned, before it listens (a test that may kill it during startup). */
  onSpawn?: (child: ChildProcess) => void;
}): Promise<ShopProcess> {
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const preload = (options.preload ?? []).flatMap((module) => ['--import', module]);
  const child = spawn(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', ...preload, 'examples/shop/main.ts'],
    {
      env: {
        ...process.env,
        PORT: '0',
        DATA_DIR: options.dataDir,
        SHOP_API_KEYS: `${options.adminKey}:admin`,
        LOG_LEVEL: 'info',
        NODE_ENV: 'development',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  options.onSpawn?.(child);
  const logs: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in ${startTimeoutMs} ms: ${logs.join('\n')}`)),
      startTimeoutMs,
    );
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${logs.join('\n')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      if (!line.includes('"shop listening"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line).port);
    });
  }).catch((err) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  });
  return { child, url: `http://127.0.0.1:${port}`, port, logs };
}
