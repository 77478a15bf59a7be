import { z } from 'zod';
import { RecomputeModuleSchema, SwapModuleSchema, type ParallelPlan } from '@moge/core';
import type { ActivationBlock } from './blocks';
import { addCost, ZERO_COST, type RecomputeCost } from './recompute-cost';

/** The memory half of a ParallelPlan: what to recompute and what to swap to host. */
export const MemoryPolicySchema = z.object({
  recompute: z.array(RecomputeModuleSchema).default([]),
  /** With 'layer': the first n recomputable blocks of every model chunk (Megatron `--recompute-method block`); undefined = all. */
  recomputeNumLayers: z.number().int().nonnegative().optional(),
  swap: z.array(SwapModuleSchema).default([]),
});
export type MemoryPolicy = z.output<typeof MemoryPolicySchema>;

export function policyOf(plan: ParallelPlan): MemoryPolicy {
  return { recompute: plan.recompute, recomputeNumLayers: plan.recomputeNumLayers, swap: plan.swap };
}

export function withPolicy(plan: ParallelPlan, policy: MemoryPolicy): ParallelPlan {
  const next: ParallelPlan = { ...plan, recompute: [...policy.recompute], swap: [...policy.swap] };
  if (policy.recomputeNumLayers === undefined) delete next.recomputeNumLayers;
  else next.recomputeNumLayers = policy.recomputeNumLayers;
  return next;
}

/** One block under a policy, for one micro-batch. */
export interface BlockMemory {
  /** Bytes without any recompute (what the block produces for backward). */
  fullBytes: number;
  /** Bytes kept for backward after recompute (device + host). */
  keptBytes: number;
  /** Part of `keptBytes` swapped to host between forward and backward. */
  swappedBytes: number;
  wholeRecompute: boolean;
  /** Extra work the backward does because of recompute. */
  cost: RecomputeCost;
}

function isWholeRecompute(block: ActivationBlock, policy: MemoryPolicy): boolean {
  if (block.checkpointBytes === null || !policy.recompute.includes('layer')) return false;
  return policy.recomputeNumLayers === undefined || block.indexInChunk < policy.recomputeNumLayers;
}

/**
 * A block under a policy. Whole-block recompute keeps only the block input and ignores fine-grained
 * options inside it (they would recompute what is being recomputed anyway; MindSpeed turns them off there).
 * A tensor that is recomputed is never swapped: recompute wins.
 */
export function evaluateBlock(block: ActivationBlock, policy: MemoryPolicy): BlockMemory {
  const fullBytes = block.tensors.reduce((sum, t) => sum + t.bytes, 0);
  if (isWholeRecompute(block, policy)) {
    const keptBytes = block.checkpointBytes!;
    return {
      fullBytes,
      keptBytes,
      swappedBytes: policy.swap.includes('layer-input') ? keptBytes : 0,
      wholeRecompute: true,
      cost: block.layerCost,
    };
  }
  let keptBytes = 0;
  let swappedBytes = 0;
  for (const t of block.tensors) {
    if (t.recompute !== null && policy.recompute.includes(t.recompute)) continue;
    keptBytes += t.bytes;
    if (t.swap !== null && policy.swap.includes(t.swap)) swappedBytes += t.bytes;
  }
  let cost = ZERO_COST;
  for (const option of policy.recompute) {
    if (option !== 'layer') cost = addCost(cost, block.fineCosts[option]);
  }
  return { fullBytes, keptBytes, swappedBytes, wholeRecompute: false, cost };
}
