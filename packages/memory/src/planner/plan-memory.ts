import { parseWith, ValidationError, type MoeArch, type ParallelPlan, type RecomputeModule, type SwapModule } from '@moge/core';
import { evaluatePolicy, prepareTraining, type PreparedTraining, type StageMemory, type TrainingMemoryEstimate } from '../training/estimate';
import { withPolicy, type MemoryPolicy } from '../training/policy';
import type { RecomputeCost } from '../training/recompute-cost';
import { explainShortfall, type Shortfall } from './explain';
import { PlanMemoryOptionsSchema, type CostRates, type PlanMemoryOptionsInput } from './plan-options';

const FINE_ORDER = ['norm', 'activation', 'attention-core', 'mla-up-proj', 'permute'] as const;
const SWAP_ORDER: readonly SwapModule[] = ['layer-input', 'attention', 'mlp', 'moe'];

/** Added time of one optimizer step on the stage where it is largest, with the inputs behind it. */
export interface AddedTime {
  stage: number;
  /** Extra backward work of one step: FLOPs, HBM bytes and collective bytes (the simulator costs these itself). */
  recompute: RecomputeCost;
  recomputeTimeS: number;
  swapBytesPerStep: number;
  swapTransfersPerStep: number;
  /** Swap time not hidden by prefetch: transfer time × (1 − swapOverlap). */
  swapTimeS: number;
  totalS: number;
}

export interface MemoryPlanResult {
  fits: boolean;
  budgetBytes: number;
  /** The chosen policy; when nothing fits, the one that needs the least memory. */
  policy: MemoryPolicy;
  /** The input plan with `policy` in its recompute/swap fields. */
  plan: ParallelPlan;
  estimate: TrainingMemoryEstimate;
  /** The same run with no recompute and no swap, for comparison. */
  baseline: TrainingMemoryEstimate;
  addedTime: AddedTime;
  candidatesEvaluated: number;
  /** Present when nothing fits: what dominates and by how much the budget is missed. */
  shortfall?: Shortfall;
  /** One sentence for people. */
  summary: string;
}

function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 0; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => mask & (1 << i)));
  return out;
}

function stageAddedTime(stage: StageMemory, rates: CostRates, swapOverlap: number): AddedTime {
  const r = stage.recomputePerStep;
  const recomputeTimeS = r.flops / rates.flopsPerS + r.memoryBytes / rates.hbmBytesPerS + r.commBytes / rates.commBytesPerS;
  const swapTimeS = (stage.swap.timePerStepS ?? 0) * (1 - swapOverlap);
  return {
    stage: stage.stage,
    recompute: r,
    recomputeTimeS,
    swapBytesPerStep: stage.swap.bytesPerStep,
    swapTransfersPerStep: stage.swap.transfersPerStep,
    swapTimeS,
    totalS: recomputeTimeS + swapTimeS,
  };
}

/** Stages run side by side, so a step slows down by the largest per-stage addition. */
function addedTime(estimate: TrainingMemoryEstimate, rates: CostRates, swapOverlap: number): AddedTime {
  return estimate.stages
    .map((s) => stageAddedTime(s, rates, swapOverlap))
    .reduce((worst, t) => (t.totalS > worst.totalS ? t : worst));
}

/** Options that free something for this run; the others only lengthen the search. */
function usefulOptions(prep: PreparedTraining, allowRecompute: RecomputeModule[], allowSwap: SwapModule[]) {
  const blocks = prep.blocksByStage.flat();
  const fine = FINE_ORDER.filter((o) => allowRecompute.includes(o) && blocks.some((b) => b.tensors.some((t) => t.recompute === o && t.bytes > 0)));
  const swap = prep.options.hostLink ? SWAP_ORDER.filter((o) => allowSwap.includes(o) && blocks.some((b) => b.tensors.some((t) => t.swap === o && t.bytes > 0))) : [];
  const perChunk = Math.max(0, ...blocks.map((b) => b.indexInChunk + 1));
  // Whole-layer recompute of the first k blocks per chunk; k = perChunk is "all" (recomputeNumLayers unset).
  const layerCounts: (number | undefined | null)[] = [null];
  if (allowRecompute.includes('layer')) {
    for (let k = 1; k < perChunk; k++) layerCounts.push(k);
    if (perChunk > 0) layerCounts.push(undefined);
  }
  return { fine, swap, layerCounts };
}

interface Candidate {
  policy: MemoryPolicy;
  estimate: TrainingMemoryEstimate;
  time: AddedTime;
  size: number;
}

function better(a: Candidate, b: Candidate): boolean {
  if (a.time.totalS !== b.time.totalS) return a.time.totalS < b.time.totalS;
  if (a.estimate.totalBytes !== b.estimate.totalBytes) return a.estimate.totalBytes < b.estimate.totalBytes;
  return a.size < b.size;
}

/**
 * Chooses what to recompute and swap so the peak device fits `budgetBytes` at the least added step
 * time. Exact: every combination of the useful fine-grained recompute options, whole-layer recompute of
 * 0…all layers per chunk, and swap groups is evaluated with the estimator (a few thousand candidates at
 * most), and the fastest one that fits wins (ties: less memory, then fewer options). The plan's own
 * recompute/swap fields are replaced, not extended.
 */
export function planMemory(arch: MoeArch, plan: ParallelPlan, budgetBytes: number, options: PlanMemoryOptionsInput): MemoryPlanResult {
  const parsed = parseWith(PlanMemoryOptionsSchema, options, 'memory planner options');
  if (!Number.isFinite(budgetBytes) || budgetBytes <= 0) {
    throw new ValidationError('memory budget', [{ path: 'budgetBytes', received: budgetBytes, expected: 'a positive, finite number of bytes' }]);
  }
  const prep = prepareTraining(arch, plan, parsed);
  const { fine, swap, layerCounts } = usefulOptions(prep, parsed.allowRecompute, parsed.allowSwap);
  let best: Candidate | null = null;
  let smallest: Candidate | null = null;
  let evaluated = 0;
  for (const fineSet of subsets(fine)) {
    for (const k of layerCounts) {
      for (const swapSet of subsets(swap)) {
        const recompute: RecomputeModule[] = k === null ? [...fineSet] : ['layer', ...fineSet];
        const policy: MemoryPolicy = { recompute, swap: swapSet, ...(typeof k === 'number' ? { recomputeNumLayers: k } : {}) };
        const estimate = evaluatePolicy(prep, policy, false);
        evaluated += 1;
        const c: Candidate = { policy, estimate, time: addedTime(estimate, parsed.rates, parsed.swapOverlap), size: recompute.length + swapSet.length };
        if (smallest === null || c.estimate.totalBytes < smallest.estimate.totalBytes) smallest = c;
        if (estimate.totalBytes <= budgetBytes && (best === null || better(c, best))) best = c;
      }
    }
  }
  const baseline = evaluatePolicy(prep, { recompute: [], swap: [] });
  const chosen = best ?? smallest!;
  chosen.estimate = evaluatePolicy(prep, chosen.policy);
  const result: MemoryPlanResult = {
    fits: best !== null,
    budgetBytes,
    policy: chosen.policy,
    plan: withPolicy(plan, chosen.policy),
    estimate: chosen.estimate,
    baseline,
    addedTime: chosen.time,
    candidatesEvaluated: evaluated,
    summary: '',
  };
  if (best === null) {
    result.shortfall = explainShortfall(chosen.estimate, budgetBytes, swap.length === 0 && parsed.allowSwap.length > 0 && !parsed.hostLink, plan);
    result.summary = result.shortfall.message;
  } else {
    result.summary = describeChoice(chosen, baseline, budgetBytes);
  }
  return result;
}

function describeChoice(c: Candidate, baseline: TrainingMemoryEstimate, budgetBytes: number): string {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const parts = [...c.policy.recompute.map((r) => (r === 'layer' ? `recompute layer${c.policy.recomputeNumLayers === undefined ? ' (all)' : ` (${c.policy.recomputeNumLayers} per chunk)`}` : `recompute ${r}`)), ...c.policy.swap.map((s) => `swap ${s}`)];
  const what = parts.length === 0 ? 'nothing to recompute or swap' : parts.join(', ');
  return `fits: ${what}; peak stage ${c.estimate.peakStage} needs ${gib(c.estimate.totalBytes)} of ${gib(budgetBytes)} (without: ${gib(baseline.totalBytes)}), adding ${(c.time.totalS * 1e3).toFixed(2)} ms per step`;
}
