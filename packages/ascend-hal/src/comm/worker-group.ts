import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MogeError } from '@moge/core';
import { abortSharedGroup, createSharedGroup, SharedMemoryCommunicator, type SharedGroupInit } from './shared-memory';

/**
 * Runs one worker thread per rank, each joined to a shared-memory communicator, and collects what
 * each returns. If any rank throws, the group is aborted (peers blocked in a collective wake up and
 * throw), every worker is stopped, and the first error is re-thrown here with its rank.
 *
 * `entry` is a module that calls `joinWorkerGroup()` and finishes with `finishWorker(result)`. A
 * TypeScript entry (sources under development or tests) is loaded through tsx with the `@moge/source`
 * export condition, so workers see sibling packages from source exactly as the parent does.
 */
export interface WorkerGroupOptions {
  size: number;
  entry: URL;
  /** Structured-cloneable input given to every rank. */
  payload: unknown;
  slotBytes?: number;
  timeoutMs?: number;
  /** Called with messages a worker posts through `postToParent` (progress, metrics). */
  onMessage?: (rank: number, message: unknown) => void;
}

interface GroupWorkerData {
  __mogeGroup: true;
  rank: number;
  init: SharedGroupInit;
  payload: unknown;
  entry: string;
}

type WorkerReply = { kind: 'result'; value: unknown } | { kind: 'message'; value: unknown };

const TS_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.__tsxApi)
  .then((m) => m.register())
  .then(() => import(workerData.entry))
  .catch((e) => { setImmediate(() => { throw e; }); });
`;

/**
 * URL of tsx's ESM register API. Resolved through tsx's own `exports` map (its `import` branch):
 * `require.resolve` would pick the CommonJS build, which cannot register the ESM loader in a worker.
 */
function tsxEsmApiUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
}

/**
 * The code the group's error carries: the worker's own MogeError code when it threw one (a thread
 * hands its error over by structured clone, which keeps own properties such as `code`), so callers
 * and the CLI see e.g. E_DIVERGED from a worker as from the main thread; E_WORKER otherwise.
 */
function workerErrorCode(e: Error): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E_[A-Z0-9_]+$/.test(code) ? code : 'E_WORKER';
}

export async function runWorkerGroup<R>(options: WorkerGroupOptions): Promise<R[]> {
  const init = createSharedGroup(options.size, { slotBytes: options.slotBytes, timeoutMs: options.timeoutMs });
  const isTs = /\.[cm]?ts$/.test(options.entry.pathname);
  const workers: Worker[] = [];
  const results: R[] = new Array(options.size);
  let firstError: Error | undefined;
  const done = Array.from({ length: options.size }, (_, rank) => {
    const data: GroupWorkerData & { __tsxApi?: string } = { __mogeGroup: true, rank, init, payload: options.payload, entry: options.entry.href };
    let worker: Worker;
    if (isTs) {
      data.__tsxApi = tsxEsmApiUrl();
      worker = new Worker(TS_BOOTSTRAP, { eval: true, workerData: data, execArgv: ['--conditions=@moge/source'] });
    } else {
      worker = new Worker(options.entry, { workerData: data });
    }
    workers.push(worker);
    return new Promise<void>((resolve) => {
      let finished = false;
      worker.on('message', (m: WorkerReply) => {
        if (m.kind === 'result') {
          results[rank] = m.value as R;
          finished = true;
        } else options.onMessage?.(rank, m.value);
      });
      worker.on('error', (e) => {
        if (!firstError || (firstError.message.includes('collective aborted') && !e.message.includes('collective aborted'))) {
          firstError = Object.assign(new MogeError(workerErrorCode(e), `worker rank ${rank} failed: ${e.message}`, { cause: e }), { rank });
        }
        abortSharedGroup(init);
      });
      worker.on('exit', (code) => {
        if (!finished && !firstError) {
          firstError = new MogeError('E_WORKER', `worker rank ${rank} exited with code ${code} before finishing`);
          abortSharedGroup(init);
        }
        resolve();
      });
    });
  });
  await Promise.all(done);
  if (firstError) throw firstError;
  return results;
}

/** In a worker started by `runWorkerGroup`: this rank's communicator and the group's payload. */
export function joinWorkerGroup<P>(): { comm: SharedMemoryCommunicator; payload: P; rank: number; size: number } {
  const data = workerData as GroupWorkerData | undefined;
  if (isMainThread || !data?.__mogeGroup) throw new MogeError('E_NOT_WORKER', 'joinWorkerGroup() must run inside a worker started by runWorkerGroup()');
  return { comm: new SharedMemoryCommunicator(data.init, data.rank), payload: data.payload as P, rank: data.rank, size: data.init.size };
}

/** Sends this rank's result back; the worker should return (and exit) afterwards. */
export function finishWorker(value: unknown): void {
  parentPort?.postMessage({ kind: 'result', value } satisfies WorkerReply);
}

/** Sends a progress message to the parent's `onMessage`. */
export function postToParent(value: unknown): void {
  parentPort?.postMessage({ kind: 'message', value } satisfies WorkerReply);
}
