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

/**
 * Megatron's data-parallel side: each chunk's gradients are reduce-scattered once its last backward has
 * run (overlap-grad-reduce), on a communication stream, so only what is still in flight when the
 * stage's compute ends is exposed; with overlap off they all run after. Dense gradients reduce over the
 * DP×CP group, expert gradients over the expert-DP group. The distributed optimizer then updates its shard
 * and all-gathers the weights, which the next forward waits for chunk by chunk.
 */
export function dataParallelTiming(input: DataParallelInput): DataParallelTiming {
  const { plan, work } = input;
  const distributed = plan.distributedOptimizer;
  const reduceOp = distributed ? 'reduce-scatter' : 'all-reduce';
  const { gradTime, gatherTime } = dataParallelCollectives(input);

  const lastBackward = new Map<string, number>();
  for (const e of input.events) {
    if (e.kind !== 'B') continue;
    const k = `${e.stage}/${e.chunk}`;
    lastBackward.set(k, Math.max(lastBackward.get(k) ?? 0, e.endS));
  }
  const gradExposedS: number[] = [];
  const paramGatherExposedS: number[] = [];
  const optimizerS: number[] = [];
  const gradIntervals: DataParallelTiming['gradIntervals'] = [];
  for (let stage = 0; stage < plan.pp; stage++) {
    const chunks = work[stage]!;
    const end = input.stageEndS[stage]!;
    // Chunks finish their backward in reverse order of their forward; reduce them in that order.
    const order = [...chunks].sort((a, b) => (lastBackward.get(`${stage}/${a.chunk}`) ?? 0) - (lastBackward.get(`${stage}/${b.chunk}`) ?? 0));
    let streamFree = input.overlap ? 0 : end;
    for (const w of order) {
      const t = gradTime(w);
      const start = Math.max(streamFree, input.overlap ? (lastBackward.get(`${stage}/${w.chunk}`) ?? end) : end);
      streamFree = start + t;
      if (t > 0) gradIntervals.push({ stage, startS: start, endS: streamFree, label: `grad ${reduceOp} chunk ${w.chunk}` });
    }
    gradExposedS.push(Math.max(0, streamFree - end));
    // The first chunk's weights are needed before any forward can start; later chunks' gathers run under it.
    const gathers = chunks.map(gatherTime);
    paramGatherExposedS.push(input.overlap ? (gathers[0] ?? 0) : gathers.reduce((s, t) => s + t, 0));
    const localParams = chunks.reduce((s, w) => s + w.denseParams / (distributed ? input.groups.dpCp.size : 1) + w.expertParams / (distributed ? input.groups.edp.size : 1), 0);
    optimizerS.push(
      input.compute.times({ kind: 'elementwise', name: 'adam', module: 'norm', bytes: localParams * ADAM_BYTES_PER_PARAM, flops: localParams * ADAM_FLOPS_PER_PARAM }).forwardS,
    );
  }
  return { gradExposedS, paramGatherExposedS, optimizerS, gradIntervals };
}

/**
 * Time of one chunk's gradient reduction and of its parameter gather (distributed optimizer): dense
 * parameters over DP×CP, expert parameters over expert-DP. Shared by the schedule and the search's
 * quick estimate.
 */
export function dataParallelCollectives(input: Pick<DataParallelInput, 'plan' | 'groups' | 'comm' | 'gradBytes' | 'paramBytes'>): {
  gradTime: (w: ChunkWork) => number;
  gatherTime: (w: ChunkWork) => number;
} {
  const { plan, groups, comm } = input;
  const distributed = plan.distributedOptimizer;
  const reduceOp = distributed ? 'reduce-scatter' : 'all-reduce';
  const gradTime = (w: ChunkWork) =>
    comm.collective({ kind: 'collective', name: 'dp-grad', module: 'attention', group: 'tp', op: reduceOp, bytes: w.denseParams * input.gradBytes, ranks: groups.dpCp.size }, groups.dpCp) +
    comm.collective({ kind: 'collective', name: 'edp-grad', module: 'experts', group: 'tp', op: reduceOp, bytes: w.expertParams * input.gradBytes, ranks: groups.edp.size }, groups.edp);
  const gatherTime = (w: ChunkWork) =>
    distributed
      ? comm.collective({ kind: 'collective', name: 'dp-param', module: 'attention', group: 'tp', op: 'all-gather', bytes: w.denseParams * input.paramBytes, ranks: groups.dpCp.size }, groups.dpCp) +
        comm.collective({ kind: 'collective', name: 'edp-param', module: 'experts', group: 'tp', op: 'all-gather', bytes: w.expertParams * input.paramBytes, ranks: groups.edp.size }, groups.edp)
      : 0;
  return { gradTime, gatherTime };
}
