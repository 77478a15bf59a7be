import type { Communicator } from '@moge/ascend-hal';
import { createBackend } from '@moge/ascend-hal/node';
import type { MoeArch } from '@moge/core';
import { createModelWeights, paramSpecs, type HostTensor, type ModelWeights } from '@moge/model';
import { saveCheckpoint } from '../checkpoint/checkpoint';
import { warmupSteps, type TrainConfig } from '../config/train-config';
import { DataCursor, type DataCursorState } from '../data/cursor';
import type { PackedSplit } from '../data/dataset';
import { JsonlLog } from '../metrics/jsonl-log';
import type { StepRecord } from '../metrics/step-record';
import { AdamW, type AdamWParam } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import { learningRate, LrScheduleSchema } from '../optim/schedule';
import { fromTokenizerJson } from '../tokenizer/tokenizer-json';
import { expertDeviceMap } from './device-map';
import { flatLayout, views, type FlatLayout } from './flat-params';
import { evalMicrobatch, runMicrobatch } from './microbatch';

/**
 * Everything a rank needs to run (structured-cloneable, so it can be posted to a worker thread).
 * Every rank holds the same parameters and optimizer state and draws the same global batch; rank r
 * runs micro-batches [r·n/P, (r+1)·n/P) of it. Gradients and metrics are summed over ranks with the
 * communicator's deterministic (rank-ordered) all-reduce, and every rank applies the identical
 * update, so replicas never drift apart.
 */
export interface RunInit {
  config: TrainConfig;
  arch: MoeArch;
  runDir: string;
  logFile: string;
  train: PackedSplit;
  heldOut: PackedSplit;
  fingerprint: string;
  startStep: number;
  cursor: DataCursorState;
  /** Flat fp32 parameters in `paramSpecs` order. */
  params: Float32Array;
  optimizer?: { step: number; m: Float32Array; v: Float32Array };
  /** tokenizer.json object, written into every checkpoint. */
  tokenizerJson: unknown;
}

export interface RankResult {
  step: number;
  loss: number;
  evalLoss?: number;
  checkpointDir?: string;
}

function weightsFrom(arch: MoeArch, c: TrainConfig, layout: FlatLayout, flat: Float32Array): () => ModelWeights {
  const backend = createBackend(c.backend, c.backend === 'onnxruntime' ? { intraOpThreads: c.intraOpThreads } : {});
  const host = new Map<string, HostTensor>(layout.slots.map((s) => [s.name, { shape: s.shape, data: flat.subarray(s.offset, s.offset + s.size) }]));
  return () => createModelWeights(arch, backend, host);
}

export function trainRank(init: RunInit, comm: Communicator, onStep?: (r: StepRecord) => void): RankResult {
  const { config: c, arch } = init;
  const P = comm.size;
  const layout = flatLayout(paramSpecs(arch));
  const params = init.params;
  const paramViews = views(layout, params);
  const adamParams: AdamWParam[] = layout.slots.map((s) => ({ name: s.name, shape: s.shape, value: paramViews.get(s.name)! }));
  const opt = new AdamW(c.adamw);
  if (init.optimizer) opt.load(init.optimizer.step, views(layout, init.optimizer.m), views(layout, init.optimizer.v));
  const grad = new Float32Array(layout.total);
  const gradViews = views(layout, grad);
  const gradList = [...gradViews.values()];
  const makeWeights = weightsFrom(arch, c, layout, params);
  const schedule = LrScheduleSchema.parse({ ...c.schedule, warmupSteps: warmupSteps(c), totalSteps: c.steps });
  const cursor = new DataCursor(init.train, c.seed, init.cursor);
  const auxAlpha = c.auxAlpha ?? arch.routerAuxLossCoef;
  const numMicro = c.globalBatch / c.microBatch;
  const perRank = numMicro / P;
  const L = arch.numLayers;
  const E = arch.numExperts;
  const numDevices = c.epDevices ?? arch.numExpertGroups;
  const deviceOf = expertDeviceMap(arch, numDevices);
  const w = c.seqLen + 1;
  const isWriter = comm.rank === 0;
  const log = isWriter ? new JsonlLog(init.logFile) : undefined;
  const tokenizer = isWriter ? fromTokenizerJson(init.tokenizerJson) : undefined;
  let result: RankResult = { step: init.startStep, loss: NaN };

  for (let step = init.startStep + 1; step <= c.steps; step++) {
    const t0 = performance.now();
    const weights = makeWeights();
    const batch = cursor.next(c.globalBatch);
    grad.fill(0);
    // [Σ CE, Σ aux, IS per layer, counts per layer × expert], summed over micro-batches and ranks.
    const stats = new Float64Array(2 + L + L * E);
    for (let i = 0; i < perRank; i++) {
      const mb = comm.rank * perRank + i;
      const windows = batch.subarray(mb * c.microBatch * w, (mb + 1) * c.microBatch * w);
      const s = runMicrobatch(weights, layout, windows, c.microBatch, c.seqLen, auxAlpha, 1 / numMicro, grad, deviceOf, numDevices);
      stats[0] += s.crossEntropy;
      stats[1] += s.auxUnscaled;
      s.imbalance.forEach((v, l) => (stats[2 + l] += v));
      s.counts.forEach((counts, l) => counts.forEach((n, e) => (stats[2 + L + l * E + e] += n)));
    }
    comm.allReduce(grad);
    comm.allReduce(stats);
    const gradNorm = clipGradNorm(gradList, c.clipGrad);
    const lr = learningRate(schedule, step);
    opt.update(adamParams, gradViews, lr);
    const seconds = (performance.now() - t0) / 1000;

    const record: StepRecord = {
      step,
      loss: stats[0]! / numMicro,
      auxLoss: stats[1]! / numMicro,
      lr,
      gradNorm,
      tokens: c.globalBatch * c.seqLen,
      tokensPerSecond: (c.globalBatch * c.seqLen) / seconds,
      elapsedS: seconds,
      imbalanceScore: Array.from({ length: L }, (_, l) => stats[2 + l]! / numMicro),
      expertLoads: Array.from({ length: L }, (_, l) => Array.from(stats.subarray(2 + L + l * E, 2 + L + (l + 1) * E))),
    };
    const last = step === c.steps;
    if ((c.evalEvery > 0 && step % c.evalEvery === 0) || last) record.evalLoss = evaluate(init, c, makeWeights(), comm);
    result = { ...result, step, loss: record.loss, evalLoss: record.evalLoss ?? result.evalLoss };
    if (isWriter) {
      // The step's record is on disk before its checkpoint, so a checkpoint never runs ahead of the log.
      log!.append(record);
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery === 0) || last) {
        result.checkpointDir = saveCheckpoint(
          init.runDir,
          {
            weights: makeWeights(),
            tokenizer: tokenizer!,
            optimizer: { step: opt.step, m: opt.m, v: opt.v },
            state: { step, config: c, cursor: cursor.current, dataFingerprint: init.fingerprint, optimizerStep: opt.step },
          },
          c.keepCheckpoints,
        );
      }
      onStep?.(record);
    }
  }
  return result;
}

/** Mean held-out cross-entropy over the first evalBatches micro-batches, spread round-robin over ranks. */
function evaluate(init: RunInit, c: TrainConfig, weights: ModelWeights, comm: Communicator): number {
  const w = c.seqLen + 1;
  const n = Math.min(c.evalBatches * c.microBatch, init.heldOut.numSequences);
  const acc = new Float64Array(2);
  let j = 0;
  for (let start = 0; start < n; start += c.microBatch, j++) {
    if (j % comm.size !== comm.rank) continue;
    const m = Math.min(c.microBatch, n - start);
    const r = evalMicrobatch(weights, init.heldOut.windows.subarray(start * w, (start + m) * w), m, c.seqLen);
    acc[0] += r.sum;
    acc[1] += r.count;
  }
  comm.allReduce(acc);
  return acc[1]! > 0 ? acc[0]! / acc[1]! : NaN;
}
