import type { Communicator } from '@moge/ascend-hal';
import { createBackend, vectorMath } from '@moge/ascend-hal/node';
import { MogeError, type MoeArch } from '@moge/core';
import { createModelWeights, paramSpecs, type HostTensor, type ModelWeights } from '@moge/model';
import { saveCheckpoint } from '../checkpoint/checkpoint';
import { lrScheduleOf, type TrainConfig } from '../config/train-config';
import { DataCursor, type DataCursorState } from '../data/cursor';
import type { PackedSplit } from '../data/dataset';
import { JsonlLog } from '../metrics/jsonl-log';
import type { StepRecord } from '../metrics/step-record';
import { AdamW, type AdamWParam } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import { learningRate } from '../optim/schedule';
import { fromTokenizerJson } from '../tokenizer/tokenizer-json';
import { ExpertParallelContext } from '../parallel/ep-context';
import { allReduceDense, clipShardedGradNorm, gatherExperts, ownedShape, ownedViews } from '../parallel/ep-shards';
import { resolveParallelMode, type ParallelMode } from '../parallel/mode';
import { expertDeviceMap } from './device-map';
import { flatLayout, views, type FlatLayout } from './flat-params';
import { evalMicrobatch, runMicrobatch } from './microbatch';

/**
 * Everything a rank needs to run (structured-cloneable, so it can be posted to a worker thread).
 * Every rank draws the same global batch; rank r runs micro-batches [r·n/P, (r+1)·n/P) of it.
 * Data parallel (`dp`): every rank holds the same parameters and optimizer state; gradients and
 * metrics are summed over ranks with the communicator's deterministic (rank-ordered) all-reduce, and
 * every rank applies the identical update, so replicas never drift apart.
 * Expert parallel (`ep`): the same for the dense parameters, but each rank owns the experts of its
 * MoGE groups (../parallel/): tokens reach them by all-to-all, their gradients and optimizer state
 * stay on the owner, and checkpoints gather them so rank 0 writes the whole model.
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
  /** How the workers split the work (see ../parallel/mode.ts). */
  parallel: ParallelMode;
  step: number;
  loss: number;
  evalLoss?: number;
  checkpointDir?: string;
}

function weightsFrom(arch: MoeArch, c: TrainConfig, layout: FlatLayout, flat: Float32Array): () => ModelWeights {
  const backend = createBackend(c.backend, c.backend === 'onnxruntime' ? { intraOpThreads: c.intraOpThreads, recycleBuffers: c.recycleBuffers } : {});
  const host = new Map<string, HostTensor>(layout.slots.map((s) => [s.name, { shape: s.shape, data: flat.subarray(s.offset, s.offset + s.size) }]));
  return () => createModelWeights(arch, backend, host);
}

export function trainRank(init: RunInit, comm: Communicator, onStep?: (r: StepRecord) => void): RankResult {
  const { config: c, arch } = init;
  const P = comm.size;
  const layout = flatLayout(paramSpecs(arch));
  const params = init.params;
  const grad = new Float32Array(layout.total);
  const expertGroups = c.epDevices ?? arch.numExpertGroups;
  // Gradient accumulation, clipping and AdamW pass over every parameter (25 M in moge-small): OpenBLAS's
  // level-1 kernels and a WebAssembly AdamW (vectorMath), not JS loops.
  const math = vectorMath();
  const ep = resolveParallelMode(c.parallel, P, expertGroups) === 'ep' ? new ExpertParallelContext(comm, arch, expertGroups, layout, params, grad, math) : undefined;
  // What this rank updates: everything (dp) or the dense parameters plus its own experts (ep).
  const mine = (flat: Float32Array) => (ep ? ownedViews(ep.shards, flat) : views(layout, flat));
  const paramViews = mine(params);
  const adamParams: AdamWParam[] = layout.slots.map((s) => ({ name: s.name, shape: ep ? ownedShape(ep.shards, s) : s.shape, value: paramViews.get(s.name)! }));
  const opt = new AdamW(c.adamw, math);
  if (init.optimizer) opt.load(init.optimizer.step, mine(init.optimizer.m), mine(init.optimizer.v));
  const gradViews = mine(grad);
  const gradList = [...gradViews.values()];
  const makeWeights = weightsFrom(arch, c, layout, params);
  const schedule = lrScheduleOf(c);
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
  let result: RankResult = { parallel: ep ? 'ep' : 'dp', step: init.startStep, loss: NaN };

  for (let step = init.startStep + 1; step <= c.steps; step++) {
    const t0 = performance.now();
    const weights = makeWeights();
    ep?.beginStep(weights.backend);
    if (ep) ep.gradScale = 1 / numMicro;
    const batch = cursor.next(c.globalBatch);
    grad.fill(0);
    // [Σ CE, Σ aux, IS per layer, counts per layer × expert], summed over micro-batches and ranks.
    const stats = new Float64Array(2 + L + L * E);
    for (let i = 0; i < perRank; i++) {
      const mb = comm.rank * perRank + i;
      const windows = batch.subarray(mb * c.microBatch * w, (mb + 1) * c.microBatch * w);
      const s = runMicrobatch(weights, layout, windows, c.microBatch, c.seqLen, auxAlpha, 1 / numMicro, grad, deviceOf, numDevices, ep?.runner, math);
      stats[0] += s.crossEntropy;
      stats[1] += s.auxUnscaled;
      s.imbalance.forEach((v, l) => (stats[2 + l] += v));
      s.counts.forEach((counts, l) => counts.forEach((n, e) => (stats[2 + L + l * E + e] += n)));
    }
    if (ep) allReduceDense(comm, ep.shards, grad);
    else comm.allReduce(grad);
    comm.allReduce(stats);
    const gradNorm = ep ? clipShardedGradNorm(comm, ep.shards, grad, c.clipGrad, math) : clipGradNorm(gradList, c.clipGrad, math);
    // Every rank holds the same reduced loss and norm, so all stop together, before the update: the
    // weights, the log and the checkpoints keep the last finite step (Megatron's
    // --check-for-nan-in-loss-and-grad raises here too).
    const loss = stats[0]! / numMicro;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new MogeError(
        'E_DIVERGED',
        // Not "resume": a resume keeps every setting but steps, workers and intervals, and the run is
        // deterministic, so it would reach this very step again and stop here.
        `step ${step}: loss ${loss}, gradient norm ${gradNorm}: training diverged; nothing of this step was applied or written. Start a new run with a lower learning rate (peak ${c.schedule.peakLr}, --lr) or harder clipping (clipGrad ${c.clipGrad}, --clip): a resume keeps the run's settings and would diverge at this step again`,
      );
    }
    const lr = learningRate(schedule, step);
    opt.update(adamParams, gradViews, lr);
    const seconds = (performance.now() - t0) / 1000;

    const record: StepRecord = {
      step,
      loss,
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
    if ((c.evalEvery > 0 && step % c.evalEvery === 0) || last) record.evalLoss = evaluate(init, c, makeWeights(), comm, ep);
    result = { ...result, step, loss: record.loss, evalLoss: record.evalLoss ?? result.evalLoss };
    const checkpoint = (c.checkpointEvery > 0 && step % c.checkpointEvery === 0) || last;
    // Under EP the owners' experts and moments are gathered first (a collective: every rank joins).
    const moments = checkpoint ? fullMoments(opt, layout, ep, params, comm) : undefined;
    if (isWriter) {
      // The step's record is on disk (fsync'd) before its checkpoint, so a checkpoint never runs ahead of
      // the log, even after a power loss.
      log!.append(record);
      if (moments) {
        log!.sync();
        result.checkpointDir = saveCheckpoint(
          init.runDir,
          {
            weights: makeWeights(),
            tokenizer: tokenizer!,
            optimizer: { step: opt.step, ...moments },
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

/**
 * Optimizer moments of every parameter for a checkpoint. Under EP each rank holds only its experts'
 * moments: they are placed into full-size buffers and gathered, together with the parameters.
 */
function fullMoments(opt: AdamW, layout: FlatLayout, ep: ExpertParallelContext | undefined, params: Float32Array, comm: Communicator) {
  if (!ep) return { m: opt.m, v: opt.v };
  const m = new Float32Array(layout.total);
  const v = new Float32Array(layout.total);
  const mViews = ownedViews(ep.shards, m);
  const vViews = ownedViews(ep.shards, v);
  for (const [name, view] of mViews) {
    const om = opt.m.get(name);
    const ov = opt.v.get(name);
    if (om) view.set(om);
    if (ov) vViews.get(name)!.set(ov);
  }
  gatherExperts(comm, ep.shards, [params, m, v], ep.own);
  return { m: views(layout, m), v: views(layout, v) };
}

/**
 * Mean held-out cross-entropy over the first evalBatches micro-batches, spread round-robin over ranks.
 * Under EP every rank joins every round's exchanges, with no tokens when it has no batch left.
 */
function evaluate(init: RunInit, c: TrainConfig, weights: ModelWeights, comm: Communicator, ep?: ExpertParallelContext): number {
  const w = c.seqLen + 1;
  const n = Math.min(c.evalBatches * c.microBatch, init.heldOut.numSequences);
  const acc = new Float64Array(2);
  ep?.beginStep(weights.backend);
  const batches = Math.ceil(n / c.microBatch);
  const rounds = Math.ceil(batches / comm.size);
  for (let j = comm.rank; j < rounds * comm.size; j += comm.size) {
    const start = j * c.microBatch;
    if (start >= n) {
      ep?.idleForward(init.arch.numLayers);
      continue;
    }
    const m = Math.min(c.microBatch, n - start);
    const r = evalMicrobatch(weights, init.heldOut.windows.subarray(start * w, (start + m) * w), m, c.seqLen, ep?.runner);
    acc[0] += r.sum;
    acc[1] += r.count;
  }
  comm.allReduce(acc);
  return acc[1]! > 0 ? acc[0]! / acc[1]! : NaN;
}
