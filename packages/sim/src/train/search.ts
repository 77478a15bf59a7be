import { dtypeBytes, MogeError, MoeArchSchema, parseWith, ValidationError, type MoeArch, type ParallelPlan } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { CommCostCache } from '../common/comm-cost';
import { BlockCostMemo } from './block-cost-memo';
import { ComputeCostCache } from '../common/op-cost';
import { sumComm } from '../common/pass-cost';
import { defaultSimProfileFor, getSimProfile, SimProfileSchema, type SimProfile } from '../common/training-profile';
import { trainingFlopsPerToken } from './model-flops';
import { dataParallelCollectives } from './data-parallel';
import { resolveOverlap, type TrainingSimOptionsInput } from './options';
import { parseSearchSettings } from './search-input';
import { explainEmptyPlanSpace, type EmptyPlanSpaceExplanation } from './empty-plan-space';
import { enumeratePlans, type PlanSpace, type PlanSpaceInput } from './search-space';
import { prepareTraining, scheduleTraining, trainingMemory, type PreparedTrainingSim, type TrainingSimResult } from './simulate';

export interface SearchInput {
  archs: MoeArch[];
  cluster: Cluster;
  globalBatchSize: number;
  seqLength: number;
  objective?: 'throughput' | 'mfu';
  space?: PlanSpaceInput;
  options?: TrainingSimOptionsInput;
  /** A profile object instead of a named one (calibration scripts trying a fit). */
  profileData?: SimProfile;
  /** Configurations to return, best first. */
  top?: number;
  /** Plans whose schedule is simulated event by event (the best by the quick estimate), at least `top`. Default max(4 × top, 200): the quick estimate orders plans only roughly (bench/search.bench.ts compares against simulating every plan). */
  survivors?: number;
  /**
   * With more architectures than this, a screening pass (the smallest micro-batch size only)
   * ranks them first and only this many get the full plan space — the papers' filter → shortlist →
   * simulate funnel. Default 4.
   */
  shortlist?: number;
  /** `done` of `total` plans looked at; `total` grows once the shortlist is known. */
  onProgress?: (done: number, total: number) => void;
}

export interface SearchEntry {
  arch: MoeArch;
  plan: ParallelPlan;
  result: TrainingSimResult;
}

export interface SearchResult {
  objective: 'throughput' | 'mfu';
  counts: {
    /** Architectures given, and those that reached the full plan search. */
    architectures: number;
    shortlisted: number;
    /** Plans enumerated (screening and full search), and those found to fit in memory among the ones fast enough to be checked. */
    enumerated: number;
    fitting: number;
    /** Plans whose schedule was simulated event by event. */
    simulated: number;
  };
  top: SearchEntry[];
  /** Simulated configurations no other beats on both throughput and peak memory. */
  pareto: SearchEntry[];
  /**
   * Only when the space enumerated no plan at all (counts.enumerated 0): which rules removed every
   * combination and the nearest global batches and device counts that would have plans. Plans that
   * were enumerated but do not fit in memory are a different failure, told by counts.fitting.
   */
  emptyPlanSpace?: EmptyPlanSpaceExplanation;
}

interface Candidate {
  arch: MoeArch;
  prep: PreparedTrainingSim;
  /** Quick estimate in the objective's unit (tokens/s, or tokens/s × model FLOPs per token). */
  quickScore: number;
}

/**
 * A quick estimate of the step, used only to pick the plans whose schedule is simulated: the slowest
 * stage's work per micro-batch times (micro-batches + (pp − 1)/vpp), the classic interleaved-1F1B
 * makespan. Forward/backward overlap is credited only to the steady-state share of the schedule
 * (none for plain 1F1B, where pairing does not pay, see pipeline-sim), and the data-parallel
 * reduction that cannot hide (what of the last chunk's gradients outlasts its backward and the first
 * bucket's parameter gather, or all of it without overlap) is added.
 */
function quickStepS(prep: PreparedTrainingSim): number {
  const { plan } = prep.input;
  const overlap = resolveOverlap(prep.options.overlap);
  const eff = prep.profile.overlapEfficiency.value;
  const m = prep.numMicroBatches;
  const tasks = m * plan.vpp;
  const warmup = plan.vpp === 1 ? Math.min(plan.pp - 1, m) : Math.min(2 * (plan.pp - 1) + (plan.vpp - 1) * plan.pp, tasks);
  const steady = overlap.pipeline && plan.vpp > 1 ? Math.max(0, tasks - warmup) / tasks : 0;
  const dp = dataParallelCollectives({ plan, groups: prep.groups, comm: prep.comm, gradBytes: dtypeBytes(prep.options.gradReduceDType), paramBytes: dtypeBytes('bf16') });
  let slowest = 0;
  let dpExposed = 0;
  // The stage-balanced split (prep.work): this estimate is stage-bound, and the other layout
  // candidates even out chunks, not stages, so they are built only for the plans simulated.
  for (const stage of prep.work) {
    let t = 0;
    for (const w of stage) {
      const compute = w.forward.computeS + w.backward.computeS + w.recomputeS + w.swapS;
      const comm = sumComm(w.forward.comm) + sumComm(w.backward.comm);
      const paired = Math.max(compute, comm) + (1 - eff) * Math.min(compute, comm);
      t += steady * paired + (1 - steady) * (compute + comm);
    }
    slowest = Math.max(slowest, t);
    const first = stage[0]!;
    // Overlapped, buckets reduce under the first chunk's last backward and the first forward waits
    // on its first bucket's gather (data-parallel.ts has the full account).
    const exposed = overlap.dataParallel
      ? Math.max(0, dp.gradTime(first) - first.backward.computeS) + dp.gatherTime(first.blocks[0] ?? first)
      : stage.reduce((s, w) => s + dp.gradTime(w) + dp.gatherTime(w), 0);
    dpExposed = Math.max(dpExposed, exposed);
  }
  return slowest * (m + (plan.pp - 1) / plan.vpp) + prep.p2pS * 2 * plan.pp * plan.vpp + dpExposed;
}

/** Everything of a plan but its recompute policy: plans sharing it differ only in how much they recompute. */
function planKeyWithoutRecompute(p: ParallelPlan): string {
  return `${p.tp}:${p.cp}:${p.pp}:${p.vpp}:${p.ep}:${p.etp}:${p.dp}:${p.microBatchSize}:${p.noopLayers}`;
}

/** Recompute policies in order of cost: a cheaper one that fits makes the dearer ones pointless. */
const RECOMPUTE_ORDER = { none: 0, fine: 1, full: 2 } as const;

/**
 * Searches architectures × plans on a cluster: enumerates plans, prunes those that do not fit in device
 * memory (@moge/memory), ranks the rest by a quick estimate from cached per-layer costs, simulates the
 * schedule of the best `survivors` event by event and ranks them by the objective. Two prunings keep
 * a large search fast without changing its answer much: a plan is skipped when the same plan with less
 * recompute already fits (it can only be slower), and many architectures are first screened on a
 * reduced plan space (see `shortlist`).
 */
export function searchTraining(input: SearchInput): SearchResult {
  if (input.archs.length === 0) throw new ValidationError('search', [{ path: 'archs', received: [], expected: 'at least one architecture (none fell within the ranges and budget)' }]);
  const settings = parseSearchSettings(input);
  // Parsed here, as simulateTraining does: an invalid architecture (topK 0 with experts) was searched
  // as if valid, and one from JSON without its defaults hung the layer packer on NaN costs.
  const given = input.archs.map((a, i) => parseWith(MoeArchSchema, a, `archs[${i}]${a.name ? ` (${a.name})` : ''}`));
  const { objective, space, top, survivors, shortlist } = settings;
  space.recompute = [...new Set(space.recompute)].sort((a, b) => RECOMPUTE_ORDER[a] - RECOMPUTE_ORDER[b]);
  const chip = input.cluster.node.chip;
  const profileName = settings.options.profile;
  const profile = input.profileData ? parseWith(SimProfileSchema, input.profileData, 'profileData') : profileName ? getSimProfile(profileName) : defaultSimProfileFor(chip.name);
  const compute = new ComputeCostCache(chip, 'bf16', profile.chipEfficiency);
  const comm = new CommCostCache(input.cluster);
  const caches = { compute, comm, blocks: new BlockCostMemo(compute, comm) };
  const template = { globalBatchSize: settings.globalBatchSize, seqLength: settings.seqLength, devices: input.cluster.numDevices, devicesPerNode: input.cluster.devicesPerNode };
  const scoreOf = (arch: MoeArch, tokensPerS: number) => (objective === 'mfu' ? tokensPerS * modelFlopsScale(arch, settings.seqLength) : tokensPerS);
  const counts = { architectures: given.length, shortlisted: given.length, enumerated: 0, fitting: 0, simulated: 0 };
  const pool: Candidate[] = [];
  let floor = 0;

  // Screening space: the smallest micro-batch (the least memory), the rest as asked — every recompute
  // policy of the space included, cheapest first as costPlans settles them: with fine recompute alone
  // an architecture that fits only with full recompute dropped out (a search that found nothing), and
  // one that fits without recompute was ranked by its slower fine-recompute plans.
  const screenSpace: PlanSpace = { ...space, microBatchSize: [Math.min(...space.microBatchSize)] };
  const countPlans = (archs: MoeArch[], sp: PlanSpace) => archs.reduce((n, arch) => n + [...enumeratePlans(arch, sp, template)].length, 0);
  const screening = given.length > shortlist;
  let total = screening ? countPlans(given, screenSpace) : countPlans(given, space);
  let done = 0;

  /**
   * Costs every plan of `sp` for `arch` and offers `keep` each one that fits in memory and beats
   * `bar()`. The memory estimate (the dearer half) is made only for plans that beat the bar on time.
   * Plans come with the recompute policy innermost, cheapest first: once a policy fits, or already
   * misses the bar, the dearer policies of the same layout can only be slower and are skipped.
   */
  const costPlans = (arch: MoeArch, sp: PlanSpace, bar: () => number, keep: (c: Candidate) => void) => {
    let settled = '';
    for (const plan of enumeratePlans(arch, sp, template)) {
      done++;
      if (done % 64 === 0) input.onProgress?.(done, total);
      const key = planKeyWithoutRecompute(plan);
      if (key === settled) continue;
      let prep: PreparedTrainingSim;
      try {
        prep = prepareTraining({ arch, cluster: input.cluster, plan, options: { ...settings.options, trace: false }, profile }, caches, { deferMemory: true });
      } catch (e) {
        if (e instanceof MogeError) continue; // a pairing the memory model or the cost models reject
        throw e;
      }
      const quickScore = scoreOf(arch, (plan.globalBatchSize * plan.seqLength) / quickStepS(prep));
      if (quickScore <= bar()) {
        settled = key;
        continue;
      }
      let fits: boolean;
      try {
        fits = trainingMemory(prep).totalBytes <= chip.hbmBytes.value;
      } catch (e) {
        if (e instanceof MogeError) continue;
        throw e;
      }
      if (!fits) continue;
      settled = key;
      counts.fitting++;
      keep({ arch, prep, quickScore });
    }
  };

  let archs = given;
  if (screening) {
    const best = new Map<MoeArch, number>();
    for (const arch of archs) costPlans(arch, screenSpace, () => best.get(arch) ?? 0, (c) => best.set(arch, c.quickScore));
    counts.enumerated += done;
    archs = [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, shortlist).map(([a]) => a);
    counts.shortlisted = archs.length;
    counts.fitting = 0;
    const before = done;
    total = done + countPlans(archs, space);
    for (const arch of archs) costPlans(arch, space, poolBar, keepBest);
    counts.enumerated += done - before;
  } else {
    for (const arch of archs) costPlans(arch, space, poolBar, keepBest);
    counts.enumerated = done;
  }
  input.onProgress?.(total, total);

  // Only the best `survivors` by the quick estimate are simulated; holding every prepared plan of a
  // large search would exhaust memory, so the pool is trimmed as it grows.
  function keepBest(c: Candidate): void {
    pool.push(c);
    if (pool.length > 2 * survivors) trimPool();
  }
  function trimPool(): void {
    pool.sort((a, b) => b.quickScore - a.quickScore);
    pool.length = Math.min(pool.length, survivors);
    if (pool.length === survivors) floor = pool[survivors - 1]!.quickScore;
  }
  /** A plan must beat the worst survivor so far (once there are enough) to be worth its memory estimate. */
  function poolBar(): number {
    return floor;
  }
  trimPool();
  const simulated: SearchEntry[] = pool.map((c) => ({ arch: c.arch, plan: c.prep.input.plan, result: scheduleTraining(c.prep) }));
  counts.simulated = simulated.length;
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
  const result: SearchResult = { objective, counts, top: simulated.slice(0, top), pareto };
  if (counts.enumerated === 0) {
    const why = explainEmptyPlanSpace(given, space, template, input.cluster.node.devicesPerNode);
    if (why) result.emptyPlanSpace = why;
  }
  return result;
}

/** MFU ranks architectures by tokens/s × model FLOPs per token (the per-device peak is common to all). */
const flopsCache = new WeakMap<MoeArch, number>();
function modelFlopsScale(arch: MoeArch, seqLength: number): number {
  let f = flopsCache.get(arch);
  if (f === undefined) {
    f = trainingFlopsPerToken(arch, seqLength).total;
    flopsCache.set(arch, f);
  }
  return f;
}
