import { MogeError, ValidationError, type MoeArch, type ParallelPlan } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { flopsPerToken } from '@moge/model';
import { CommCostCache } from '../common/comm-cost';
import { ComputeCostCache } from '../common/op-cost';
import { sumComm } from '../common/pass-cost';
import { defaultSimProfileFor, getSimProfile } from '../common/training-profile';
import { resolveOverlap, type TrainingSimOptionsInput } from './options';
import { enumeratePlans, PlanSpaceSchema, type PlanSpaceInput } from './search-space';
import { prepareTraining, scheduleTraining, type PreparedTrainingSim, type TrainingSimResult } from './simulate';

export interface SearchInput {
  archs: MoeArch[];
  cluster: Cluster;
  globalBatchSize: number;
  seqLength: number;
  objective?: 'throughput' | 'mfu';
  space?: PlanSpaceInput;
  options?: TrainingSimOptionsInput;
  /** Configurations to return, best first. */
  top?: number;
  /** Plans whose schedule is simulated event by event (the best by the quick estimate). Default max(4 × top, 40). */
  survivors?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SearchEntry {
  arch: MoeArch;
  plan: ParallelPlan;
  result: TrainingSimResult;
}

export interface SearchResult {
  objective: 'throughput' | 'mfu';
  /** Plans enumerated, plans that fit in memory, plans whose schedule was simulated. */
  counts: { enumerated: number; fitting: number; simulated: number };
  top: SearchEntry[];
  /** Simulated configurations no other beats on both throughput and peak memory. */
  pareto: SearchEntry[];
}

interface Candidate {
  arch: MoeArch;
  prep: PreparedTrainingSim;
  quickTokensPerS: number;
}

/**
 * A lower-bound-style quick estimate used only to pick survivors: the slowest stage's work per
 * micro-batch times (micro-batches + (pp − 1)/vpp), the classic interleaved-1F1B makespan, with the
 * cross-micro-batch overlap credited as in the schedule.
 */
function quickStepS(prep: PreparedTrainingSim): number {
  const { plan } = prep.input;
  const pairOverlap = resolveOverlap(prep.options.overlap).pipeline;
  const eff = prep.profile.overlapEfficiency.value;
  let slowest = 0;
  for (const stage of prep.work) {
    let t = 0;
    for (const w of stage) {
      const compute = w.forward.computeS + w.backward.computeS + w.recomputeS + w.swapS;
      const comm = sumComm(w.forward.comm) + sumComm(w.backward.comm);
      t += pairOverlap ? Math.max(compute, comm) + (1 - eff) * Math.min(compute, comm) : compute + comm;
    }
    slowest = Math.max(slowest, t);
  }
  return slowest * (prep.numMicroBatches + (plan.pp - 1) / plan.vpp) + prep.p2pS * 2 * plan.pp * plan.vpp;
}

/**
 * Searches architectures × plans on a cluster: enumerates plans, prunes those that do not fit in device
 * memory (@moge/memory), ranks the rest by a quick estimate from cached per-layer costs, simulates the
 * schedule of the best `survivors` event by event and ranks them by the objective.
 */
export function searchTraining(input: SearchInput): SearchResult {
  if (input.archs.length === 0) throw new ValidationError('search', [{ path: 'archs', received: [], expected: 'at least one architecture (none fell within the ranges and budget)' }]);
  const objective = input.objective ?? 'throughput';
  const space = PlanSpaceSchema.parse(input.space ?? {});
  const top = input.top ?? 10;
  const survivors = input.survivors ?? Math.max(4 * top, 40);
  const chip = input.cluster.node.chip;
  const profileName = input.options?.profile;
  const profile = profileName ? getSimProfile(profileName) : defaultSimProfileFor(chip.name);
  const caches = { compute: new ComputeCostCache(chip, 'bf16', profile.chipEfficiency), comm: new CommCostCache(input.cluster) };
  const template = { globalBatchSize: input.globalBatchSize, seqLength: input.seqLength, devices: input.cluster.numDevices, devicesPerNode: input.cluster.devicesPerNode };

  const total = input.archs.reduce((s, arch) => s + [...enumeratePlans(arch, space, template)].length, 0);
  const candidates: Candidate[] = [];
  let done = 0;
  for (const arch of input.archs) {
    for (const plan of enumeratePlans(arch, space, template)) {
      done++;
      if (done % 64 === 0) input.onProgress?.(done, total);
      let prep: PreparedTrainingSim;
      try {
        prep = prepareTraining({ arch, cluster: input.cluster, plan, options: { ...input.options, trace: false } }, caches);
      } catch (e) {
        if (e instanceof MogeError) continue; // a pairing the memory model or the cost models reject
        throw e;
      }
      if (prep.memory.totalBytes > chip.hbmBytes.value) continue;
      candidates.push({ arch, prep, quickTokensPerS: (plan.globalBatchSize * plan.seqLength) / quickStepS(prep) });
    }
  }
  input.onProgress?.(total, total);
  const score = (c: { arch: MoeArch; tokensPerS: number }) =>
    objective === 'mfu' ? c.tokensPerS * modelFlopsScale(c.arch, input.seqLength) : c.tokensPerS;
  candidates.sort((a, b) => score({ arch: b.arch, tokensPerS: b.quickTokensPerS }) - score({ arch: a.arch, tokensPerS: a.quickTokensPerS }));
  const simulated: SearchEntry[] = candidates.slice(0, survivors).map((c) => ({ arch: c.arch, plan: c.prep.input.plan, result: scheduleTraining(c.prep) }));
  const value = (e: SearchEntry) => (objective === 'mfu' ? e.result.mfu : e.result.tokensPerSecond);
  simulated.sort((a, b) => value(b) - value(a));
  const pareto = simulated.filter(
    (e) =>
      !simulated.some(
        (o) =>
          o !== e &&
          o.result.tokensPerSecond >= e.result.tokensPerSecond &&
          o.result.peakMemoryBytesPerDevice <= e.result.peakMemoryBytesPerDevice &&
          (o.result.tokensPerSecond > e.result.tokensPerSecond || o.result.peakMemoryBytesPerDevice < e.result.peakMemoryBytesPerDevice),
      ),
  );
  return { objective, counts: { enumerated: total, fitting: candidates.length, simulated: simulated.length }, top: simulated.slice(0, top), pareto };
}

/** MFU ranks architectures by tokens/s × model FLOPs per token (the per-device peak is common to all). */
const flopsCache = new WeakMap<MoeArch, number>();
function modelFlopsScale(arch: MoeArch, seqLength: number): number {
  let f = flopsCache.get(arch);
  if (f === undefined) {
    f = flopsPerToken(arch, { seqLen: seqLength, pass: 'training' }).mfu;
    flopsCache.set(arch, f);
  }
  return f;
}
