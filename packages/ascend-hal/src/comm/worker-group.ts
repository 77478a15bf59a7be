import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MogeError } from '@moge/core';
import { describePlaces, peerSearchPlaces, requireFromFirst } from '../peer/require-peer';
import { abortSharedGroup, createSharedGroup, SharedMemoryCommunicator, type SharedGroupInit } from './shared-memory';

/**
 * Runs one worker thread per rank, each joined to a shared-memory communicator, and collects what
 * each returns. If any rank throws, the group is aborted (peers blocked in a collective wake up and
 * throw), every worker is stopped, and the first error is re-thrown here with its rank.
 *
 * `entry` is a module that calls `joinWorkerGroup()` and finishes with `finishWorker(result)`. A
 * TypeScript entry is loaded through tsx (looked for from the entry, then as `peerSearchPlaces` says),
 * with the `@moge/source` export condition only where that leads anywhere (see `workerExecArgv`).
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
 * tsx is the application's (a dev dependency of this repository, not a dependency of ours), so it is
 * looked for from the entry first: under a strict layout (pnpm) ours cannot see the project's.
 */
function tsxEsmApiUrl(entry: URL): string {
  const places = [{ what: 'the worker entry', file: fileURLToPath(entry) }, ...peerSearchPlaces(import.meta.url)];
  const found = requireFromFirst(places, (load) => load.resolve('tsx/package.json'));
  if (!found.ok) {
    throw new MogeError(
      'E_MISSING_DEPENDENCY',
      `the TypeScript worker entry ${entry.href} runs through tsx, which did not load (${found.reason}). Looked from ${describePlaces(found.tried)}. ` +
        'Install it in the project (npm install --save-dev tsx), or give runWorkerGroup the compiled .js entry.',
    );
  }
  const pkg = JSON.parse(readFileSync(found.value, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(found.value), pkg.exports['./esm/api']!.import.default)).href;
}

/**
 * Node flags of a TypeScript worker, given the URL of this module. The `@moge/source` export condition
 * leads to src/, which only the repository has (npm ships dist/), so workers get it only when this
 * module itself runs from its TypeScript sources (tests, `tsx --conditions=@moge/source`): they then
 * see sibling packages from source exactly as the parent does. Run from the published dist, the
 * workers keep the parent's flags (undefined: Node's default) and resolve dist like the parent.
 */
export function workerExecArgv(moduleUrl: string): string[] | undefined {
  return isTypeScript(new URL(moduleUrl)) ? ['--conditions=@moge/source'] : undefined;
}

const isTypeScript = (file: URL) => /\.[cm]?ts$/.test(file.pathname);

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
  const tsxApi = isTypeScript(options.entry) ? tsxEsmApiUrl(options.entry) : undefined;
  const workers: Worker[] = [];
  const results: R[] = new Array(options.size);
  let firstError: Error | undefined;
  const done = Array.from({ length: options.size }, (_, rank) => {
    const data: GroupWorkerData & { __tsxApi?: string } = { __mogeGroup: true, rank, init, payload: options.payload, entry: options.entry.href };
    let worker: Worker;
    if (tsxApi) {
      data.__tsxApi = tsxApi;
      worker = new Worker(TS_BOOTSTRAP, { eval: true, workerData: data, execArgv: workerExecArgv(import.meta.url) });
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
