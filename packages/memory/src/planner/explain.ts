import { planExpertDataParallel, type ParallelPlan } from '@moge/core';
import type { TrainingMemoryEstimate } from '../training/estimate';

export type MemoryComponent = 'weights' | 'gradients' | 'optimizer' | 'activations' | 'overhead';

/** Why the least-memory policy still misses the budget. */
export interface Shortfall {
  stage: number;
  /** Peak bytes of the least-memory policy minus the budget. */
  overBytes: number;
  /** The largest component at that stage, its bytes and share of the total. */
  dominant: { component: MemoryComponent; bytes: number; share: number };
  /** Weights + gradients + optimizer + overhead: what no recompute or swap can touch. */
  staticBytes: number;
  message: string;
}

const ADVICE: Record<Exclude<MemoryComponent, 'optimizer'>, string> = {
  weights: 'shard weights further (larger tp, ep or pp) or use a smaller model',
  gradients: 'shard further (larger tp, ep or pp) or accumulate gradients in bf16 (gradDType)',
  // Not pp: under 1F1B stage 0 keeps pp micro-batches of its numLayers / pp layers, the same bytes at any pp
  // (Korthikanti et al. §4.2.3), and interleaving only adds to that.
  activations: 'lower microBatchSize or seqLength, or raise tp (with sequenceParallel) or cp; more pipeline stages do not lower it, since stage 0 then keeps more micro-batches in flight',
  overhead: 'lower frameworkOverheadBytes if your runtime measurement allows',
};

/**
 * The optimizer advice depends on the plan: "enable distributedOptimizer" was given to plans that
 * already had it (it is on by default), where only more data-parallel ranks shard the states further.
 */
function optimizerAdvice(plan: ParallelPlan, hasExperts: boolean): string {
  const dense = plan.dp * plan.cp;
  const expert = hasExperts ? planExpertDataParallel(plan) : 1;
  const groups = hasExperts ? `dp × cp (${dense}) for dense parameters and the expert-data-parallel group (${expert}) for experts` : `dp × cp (${dense})`;
  if (dense === 1 && expert === 1) {
    return `raise dp${plan.distributedOptimizer ? '' : ' and set distributedOptimizer: true'}: the optimizer states shard over data-parallel ranks, and this plan has one (dp × cp = 1${hasExperts ? ', expert-data-parallel 1' : ''})`;
  }
  if (!plan.distributedOptimizer) return `set distributedOptimizer: true, which shards the optimizer states over ${groups}, or raise dp`;
  return `distributedOptimizer already shards them over ${groups}; raise dp to shard them further, or hold fewer parameters per device (larger tp, ep or pp)`;
}

export function explainShortfall(least: TrainingMemoryEstimate, budgetBytes: number, swapUnavailable: boolean, plan: ParallelPlan): Shortfall {
  const stage = least.stages[least.peakStage]!;
  const parts: [MemoryComponent, number][] = [
    ['weights', stage.weightsBytes],
    ['gradients', stage.gradientsBytes],
    ['optimizer', stage.optimizerBytes],
    ['activations', stage.activationsBytes],
    ['overhead', stage.overheadBytes],
  ];
  const [component, bytes] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
  const staticBytes = stage.weightsBytes + stage.gradientsBytes + stage.optimizerBytes + stage.overheadBytes;
  const overBytes = stage.totalBytes - budgetBytes;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const share = bytes / stage.totalBytes;
  const staticNote =
    staticBytes > budgetBytes
      ? `weights, gradients, optimizer states and overhead alone need ${gib(staticBytes)}, more than the budget, so no recompute or swap can help`
      : `with every recompute${swapUnavailable ? '' : ' and swap'} option the activations still need ${gib(stage.activationsBytes)}`;
  const swapNote = swapUnavailable ? ' (swap was not tried: give a host link to price it)' : '';
  const message =
    `does not fit: stage ${stage.stage} needs at least ${gib(stage.totalBytes)} against a budget of ${gib(budgetBytes)} ` +
    `(over by ${gib(overBytes)}); ${staticNote}${swapNote}. The largest part is ${component} at ${gib(bytes)} ` +
    `(${(share * 100).toFixed(0)} %): ${component === 'optimizer' ? optimizerAdvice(plan, stage.params.expert > 0) : ADVICE[component]}.`;
  return { stage: stage.stage, overBytes, dominant: { component, bytes, share }, staticBytes, message };
}
