import type { ParallelPlan } from '@moge/core';
import type { CommCostCache } from '../common/comm-cost';
import type { PlanGroups } from '../common/group-layout';
import type { ComputeCostCache } from '../common/op-cost';
import type { ScheduleEvent } from './pipeline-sim';
import type { ChunkWork } from './stage-work';

/** Per-stage timing of the gradient reduction, optimizer update and parameter gather of one step. */
export interface DataParallelTiming {
  /** Gradient reduce-scatter (or all-reduce) still running after the stage's last backward. */
  gradExposedS: number[];
  /** Parameter all-gather (distributed optimizer) on the critical path of the next forward. */
  paramGatherExposedS: number[];
  optimizerS: number[];
  /** Communication intervals for the trace: [startS, endS, label]. */
  gradIntervals: { stage: number; startS: number; endS: number; label: string }[];
}

export interface DataParallelInput {
  plan: ParallelPlan;
  work: ChunkWork[][];
  events: ScheduleEvent[];
  stageEndS: number[];
  groups: PlanGroups;
  comm: CommCostCache;
  compute: ComputeCostCache;
  gradBytes: number;
  paramBytes: number;
  overlap: boolean;
}

/**
 * Optimizer states per parameter that the update streams: fp32 master, two Adam moments and the fp32
 * gradient read, the three states written back and the bf16 weight written: 30 bytes, ~12 FLOP.
 */
const ADAM_BYTES_PER_PARAM = 30;
const ADAM_FLOPS_PER_PARAM = 12;

/** Parameters whose gradients are reduced (and weights gathered) together: a chunk, or one block of it. */
interface ParamShare {
  denseParams: number;
  expertParams: number;
}

/**
 * Megatron's data-parallel side with `--overlap-grad-reduce` / `--overlap-param-gather`: gradients go
 * into buckets in the order backward produces them, and a bucket is reduce-scattered, on a
 * communication stream, as soon as the last micro-batch's backward has filled it. Buckets are modelled
 * as the chunk's blocks (layers, embedding, head): each block's gradients are final when the chunk's
 * last backward has run through it (its share of that backward's span, in backward order), so a chunk
 * — or a whole stage, with one chunk — starts reducing while its earlier layers still compute, and only
 * what is still in flight when the stage's compute ends is exposed. With overlap off they all run
 * after. Dense gradients reduce over the DP×CP group, expert gradients over the expert-DP group. The
 * distributed optimizer then updates its shard and all-gathers the weights bucket by bucket ahead of the
 * first forward, which waits only for the bucket of the block it is about to run.
 */
export function dataParallelTiming(input: DataParallelInput): DataParallelTiming {
  const { plan, work } = input;
  const distributed = plan.distributedOptimizer;
  const reduceOp = distributed ? 'reduce-scatter' : 'all-reduce';
  const { gradTime, gatherTime } = dataParallelCollectives(input);

  /** The last backward of each chunk: its gradients are final as it runs. */
  const lastBackward = new Map<string, { startS: number; endS: number }>();
  for (const e of input.events) {
    if (e.kind !== 'B') continue;
    const k = `${e.stage}/${e.chunk}`;
    if (e.endS >= (lastBackward.get(k)?.endS ?? -Infinity)) lastBackward.set(k, { startS: e.startS, endS: e.endS });
  }
  const gradExposedS: number[] = [];
  const paramGatherExposedS: number[] = [];
  const optimizerS: number[] = [];
  const gradIntervals: DataParallelTiming['gradIntervals'] = [];
  for (let stage = 0; stage < plan.pp; stage++) {
    const chunks = work[stage]!;
    const end = input.stageEndS[stage]!;
    if (input.overlap) {
      // Buckets in the order their gradients become final, across the stage's chunks.
      const buckets = chunks.flatMap((w) => gradientBuckets(w, lastBackward.get(`${stage}/${w.chunk}`) ?? { startS: end, endS: end }));
      buckets.sort((a, b) => a.readyS - b.readyS);
      let streamFree = 0;
      const span = new Map<number, { startS: number; endS: number }>();
      for (const b of buckets) {
        const t = gradTime(b.share);
        if (t === 0) continue;
        const start = Math.max(streamFree, b.readyS);
        streamFree = start + t;
        const s = span.get(b.chunk);
        span.set(b.chunk, { startS: s?.startS ?? start, endS: streamFree });
      }
      for (const [chunk, s] of span) gradIntervals.push({ stage, startS: s.startS, endS: s.endS, label: `grad ${reduceOp} chunk ${chunk}` });
      gradExposedS.push(Math.max(0, streamFree - end));
      paramGatherExposedS.push(chunks[0] ? firstForwardGatherWaitS(chunks[0], gatherTime) : 0);
    } else {
      let streamFree = end;
      for (const w of chunks) {
        const t = gradTime(w);
        if (t > 0) gradIntervals.push({ stage, startS: streamFree, endS: streamFree + t, label: `grad ${reduceOp} chunk ${w.chunk}` });
        streamFree += t;
      }
      gradExposedS.push(streamFree - end);
      paramGatherExposedS.push(chunks.reduce((s, w) => s + gatherTime(w), 0));
    }
    const localParams = chunks.reduce((s, w) => s + w.denseParams / (distributed ? input.groups.dpCp.size : 1) + w.expertParams / (distributed ? input.groups.edp.size : 1), 0);
    optimizerS.push(
      input.compute.times({ kind: 'elementwise', name: 'adam', module: 'norm', bytes: localParams * ADAM_BYTES_PER_PARAM, flops: localParams * ADAM_FLOPS_PER_PARAM }).forwardS,
    );
  }
  return { gradExposedS, paramGatherExposedS, optimizerS, gradIntervals };
}

/**
 * A chunk's gradient buckets (its blocks, in backward order) and when each is final: the last
 * backward's span shared out by the blocks' backward compute, as they run.
 */
function gradientBuckets(w: ChunkWork, last: { startS: number; endS: number }): { chunk: number; share: ParamShare; readyS: number }[] {
  const blocks = [...w.blocks].reverse();
  const work = blocks.map((b) => b.cost.backward.computeS + b.cost.recomputeS);
  const total = work.reduce((s, t) => s + t, 0);
  let done = 0;
  return blocks.map((b, i) => {
    done += work[i]!;
    const readyS = total > 0 ? last.startS + ((last.endS - last.startS) * done) / total : last.endS;
    return { chunk: w.chunk, share: b, readyS };
  });
}

/**
 * How long the step's first forward (the stage's first chunk) waits on the parameter all-gather: the
 * buckets are gathered in forward order on the communication stream, and each block runs once its own
 * bucket is in. The later chunks' gathers run under it.
 */
function firstForwardGatherWaitS(w: ChunkWork, gatherTime: (p: ParamShare) => number): number {
  let gathered = 0;
  let computed = 0;
  let compute = 0;
  for (const b of w.blocks) {
    gathered += gatherTime(b);
    computed = Math.max(computed, gathered) + b.cost.forward.computeS;
    compute += b.cost.forward.computeS;
  }
  return computed - compute;
}

/**
 * Time of one chunk's gradient reduction and of its parameter gather (distributed optimizer): dense
 * parameters over DP×CP, expert parameters over expert-DP. Shared by the schedule and the search's
 * quick estimate.
 */
export function dataParallelCollectives(input: Pick<DataParallelInput, 'plan' | 'groups' | 'comm' | 'gradBytes' | 'paramBytes'>): {
  gradTime: (p: ParamShare) => number;
  gatherTime: (p: ParamShare) => number;
} {
  const { plan, groups, comm } = input;
  const distributed = plan.distributedOptimizer;
  const reduceOp = distributed ? 'reduce-scatter' : 'all-reduce';
  const gradTime = (w: ParamShare) =>
    comm.collective({ kind: 'collective', name: 'dp-grad', module: 'attention', group: 'tp', op: reduceOp, bytes: w.denseParams * input.gradBytes, ranks: groups.dpCp.size }, groups.dpCp) +
    comm.collective({ kind: 'collective', name: 'edp-grad', module: 'experts', group: 'tp', op: reduceOp, bytes: w.expertParams * input.gradBytes, ranks: groups.edp.size }, groups.edp);
  const gatherTime = (w: ParamShare) =>
    distributed
      ? comm.collective({ kind: 'collective', name: 'dp-param', module: 'attention', group: 'tp', op: 'all-gather', bytes: w.denseParams * input.paramBytes, ranks: groups.dpCp.size }, groups.dpCp) +
        comm.collective({ kind: 'collective', name: 'edp-param', module: 'experts', group: 'tp', op: 'all-gather', bytes: w.expertParams * input.paramBytes, ranks: groups.edp.size }, groups.edp)
      : 0;
  return { gradTime, gatherTime };
}
