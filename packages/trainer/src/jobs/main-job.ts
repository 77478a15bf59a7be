import { join, resolve } from 'node:path';
import { ValidationError } from '@moge/core';
import type { TrainConfigInput } from '../config/train-config';
import { shellWord } from '../emit/shell-word';
import type { LiveMode } from '../metrics/live-view';
import { trainModel, type TrainRunResult } from '../loop/train';

/**
 * The main job: train `moge-small` on the State of the Union corpus with the live view, write the
 * checkpoint (an HF model directory) and say how to sample from it. `quick` is the CI-sized run:
 * the same model and code path on a few documents and steps.
 */
export interface MainJobOptions {
  quick?: boolean;
  /** Run directory; default `runs/moge-small[-quick]-<UTC timestamp>` under the working directory. */
  outDir?: string;
  seed?: number;
  /** Worker threads; default `defaultWorkers()`. */
  workers?: number;
  live?: LiveMode;
  onPhase?: (message: string) => void;
}

export interface MainJobResult extends TrainRunResult {
  checkpointDir: string;
  /** The `moge sample` command for the checkpoint, as `moge …` (the CLI prints it the way it was itself started). */
  sampleCommand: string;
}

/** The largest micro-batch ≤ `max` that splits `globalBatch` evenly over `workers`. */
function microBatchFor(globalBatch: number, workers: number, max: number): number {
  for (let m = max; m > 1; m--) if (globalBatch % (m * workers) === 0) return m;
  return 1;
}

/** The configuration of the main job; exported so the CLI can show it and tests can shrink it. */
export function mainJobConfig(quick: boolean, seed = 0, workers = 1): TrainConfigInput {
  // The job's global batch is fixed (it is the job); only its split over the workers adapts. A worker
  // count that cannot split it is named here: TrainConfig's own message would point at --global-batch
  // and --micro-batch, which `moge start` does not take.
  const globalBatch = quick ? 4 : 8;
  if (globalBatch % workers !== 0) {
    const divisors = Array.from({ length: globalBatch }, (_, i) => i + 1).filter((d) => globalBatch % d === 0);
    throw new ValidationError(`main job${quick ? ' (quick)' : ''}`, [
      { path: 'workers', received: workers, expected: `a divisor of the job's global batch of ${globalBatch} sequences (${divisors.join(', ')}), as every worker runs whole micro-batches of it` },
    ]);
  }
  return quick
    ? // 5 steps of 256 tokens on the first 6 speeches: well under a minute on 2 cores, loss visibly falling.
      { preset: 'moge-small', maxDocuments: 6, steps: 5, seed, workers, seqLen: 64, globalBatch, microBatch: microBatchFor(globalBatch, workers, 4), evalEvery: 0, evalBatches: 1, checkpointEvery: 0, schedule: { peakLr: 3e-3, warmupSteps: 1 } }
    : // ≈ 1 k tokens a step over the whole corpus, 240 steps (≈ 250 k tokens): about 4–5 minutes on 2 cores (4 min 21–36 s with the build done, 2026-12-01).
      { preset: 'moge-small', steps: 240, seed, workers, seqLen: 128, globalBatch, microBatch: microBatchFor(globalBatch, workers, 4), evalEvery: 40, evalBatches: 2, checkpointEvery: 40, schedule: { peakLr: 3e-3 } };
}

/**
 * One worker. On the 2-core hosts measured (2026-12-01, `cd packages/trainer && npm run bench --
 * --workers 1,2,1,2`), one worker ran the main job's step in 0.70–0.82 s and two in 0.90 s (expert
 * parallel, the default for two workers) or 0.76 s (data parallel): two busy cores slow each other's
 * streaming from memory (two independent training processes each ran 1.3–1.4× slower than one
 * alone), and the workers also pay a 100 MB gradient all-reduce and per-layer exchanges.
 * `--workers 2` still trains the same model (same losses to 1e-5).
 */
export function defaultWorkers(): number {
  return 1;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');

export async function runMainJob(options: MainJobOptions = {}): Promise<MainJobResult> {
  const quick = options.quick ?? false;
  const outDir = resolve(options.outDir ?? join('runs', `moge-small${quick ? '-quick' : ''}-${stamp()}`));
  const result = await trainModel(mainJobConfig(quick, options.seed ?? 0, options.workers ?? defaultWorkers()), { outDir, live: options.live, label: 'moge-small', onPhase: options.onPhase });
  const checkpointDir = result.checkpointDir!;
  return { ...result, checkpointDir, sampleCommand: sampleCommandFor(checkpointDir) };
}

/** The `moge sample` command printed after the main job, ready to paste into a shell. */
export function sampleCommandFor(checkpointDir: string): string {
  return `moge sample --model ${shellWord(checkpointDir)} --prompt "The state of the Union is" --max-tokens 40 --temperature 0.8 --top-k 40`;
}
