import type { ParallelPlanInput } from '@moge/core';
import type { TrainingSimOptionsInput } from './options';

/**
 * The training cases of shared/reference/targets.md as simulator inputs. Conditions the papers state
 * are copied; conditions they do not state are marked in `assumed` and chosen before any comparison
 * (never tuned to the figure). Plans use this project's convention for expert parallelism: `ep`
 * counts every rank experts are spread over. The papers' "TP8 EP4" runs MindSpeed's
 * `--moe-tp-extend-ep` (experts over the TP×EP group: "experts spread over the TP×EP group of 32
 * devices"), so it is ep = 8 × 4 = 32 here, and Pangu Pro's "TP8 EP2" is ep = 16.
 */
export interface TrainingCase {
  id: string;
  arch: string;
  cluster: string;
  plan: ParallelPlanInput;
  options: TrainingSimOptionsInput;
  /**
   * `planner`: the plan's recompute/swap are chosen by @moge/memory's planner (the cheapest policy
   * that fits the device), the same rule for every layout compared; absent: the plan's own, as the
   * source states it.
   */
  memoryPolicy?: 'planner';
  assumed: string[];
}

/** Pangu Ultra MoE's fine-grained recompute: MLA up-projections, permute and activation functions. */
const ULTRA_FINE_RECOMPUTE = ['mla-up-proj', 'permute', 'activation'] as const;

/** 6144 sequences: divisible by micro-batch × dp × pp for both the 6K (dp 48) and 4K (dp 32) layouts. */
const ULTRA_GLOBAL_BATCH = 6144;

const ultraPlan = (dp: number): ParallelPlanInput => ({
  tp: 8,
  pp: 16,
  vpp: 2,
  ep: 32,
  dp,
  microBatchSize: 2,
  globalBatchSize: ULTRA_GLOBAL_BATCH,
  seqLength: 4096,
  sequenceParallel: true,
  // 61 layers + 3 no-op slots = 64 = 2 per model chunk (pp16 × vpp2) under the uniform layout (what
  // @moge/memory estimates on); the cases use the balanced one, which ignores the no-op slots.
  noopLayers: 3,
});

const ULTRA_ASSUMED = [
  'sequence length 4096 (not stated for Pangu Ultra MoE; Pangu Pro trains at 4K)',
  `global batch ${ULTRA_GLOBAL_BATCH} sequences (≈25 M tokens; not stated)`,
  'layers, MTP module and loss split over the 32 virtual stages by the fastest of the balanced splits the simulator tries (stages evened out with the head and MTP on the last chunk; MTP and loss on stages of their own; heaviest stage minimised) — any of them writable with Megatron-core\'s --pipeline-model-parallel-layout (layerLayout "balanced"; the paper does not give its split)',
];

export const ULT_T1: TrainingCase = {
  id: 'ULT-T1',
  arch: 'pangu-ultra-moe',
  cluster: 'atlas-800t-a2:6144',
  plan: { ...ultraPlan(48), recompute: [...ULTRA_FINE_RECOMPUTE] },
  options: { overlap: true, dispatch: 'hierarchical', expertLoad: { kind: 'router', rebalance: true } },
  assumed: [...ULTRA_ASSUMED, '~6K NPUs = 6144 (768 nodes)'],
};

/** Before the optimisations: flat all-to-all, no overlap, full recompute, top-k imbalance without rebalancing. */
export const ULT_T0: TrainingCase = {
  id: 'ULT-T0',
  arch: 'pangu-ultra-moe',
  cluster: 'atlas-800t-a2:4096',
  plan: { ...ultraPlan(32), recompute: ['layer'] },
  options: { overlap: false, dispatch: 'flat', expertLoad: { kind: 'router', rebalance: false } },
  assumed: [...ULTRA_ASSUMED, '~4K NPUs = 4096', 'the same TP8 PP16 VPP2 EP4 layout as the final run'],
};

/** 4080 = 48 × 85 = 40 × 102 devices: both Pangu Pro layouts fill the same ~4K cluster; 1020 sequences ≈ 4 M tokens. */
const PRO_DEVICES = 4080;
const PRO_GLOBAL_BATCH = 1020;
const PRO_ASSUMED = [
  `~4K NPUs = ${PRO_DEVICES} (the largest size both layouts fill exactly)`,
  `4 M-token batches = ${PRO_GLOBAL_BATCH} sequences of 4096`,
  'micro-batch 1; recompute and swap chosen by @moge/memory\'s planner for each layout (the cheapest policy that fits 64 GB; it picks none for both)',
  'no dynamic expert re-placement (a Pangu Ultra optimisation, not listed for Pangu Pro): expert loads from the router alone',
  'the old layout without the Pangu Pro optimisations (flat all-to-all, no pipeline / intra-layer overlap: Megatron\'s interleaved schedule without --overlap-p2p-communication, one blocking batched exchange after each forward/backward step); data-parallel overlap on in both',
  'fused operators (the paper lists them among the changes of the new layout) as MindSpeed\'s: the old layout without any (RMSNorm, RoPE, SwiGLU and MoE permute/unpermute as the unfused PyTorch / Megatron op chains, each op its own HBM pass and launch; no MC2, moot at TP1), the new one with all of them (--use-fused-rmsnorm, --use-fused-rotary-pos-emb, --use-fused-swiglu, --use-fused-moe-token-permute-and-unpermute, and --use-ascend-mc2: TP all-gather / reduce-scatter fused with the adjacent matmul)',
  'the stated layer split: 48 layers (+ 2 no-op slots after) evenly over the model chunks (layerLayout "uniform")',
];

export const PRO_T1_BEFORE: TrainingCase = {
  id: 'PRO-T1 before',
  arch: 'pangu-pro-moe',
  cluster: `atlas-800t-a2:${PRO_DEVICES}`,
  plan: { tp: 1, cp: 8, ep: 8, pp: 6, vpp: 4, dp: 85, microBatchSize: 1, globalBatchSize: PRO_GLOBAL_BATCH, seqLength: 4096 },
  options: {
    overlap: { pipeline: false, intraLayer: false, dataParallel: true },
    dispatch: 'flat',
    layerLayout: 'uniform',
    expertLoad: { kind: 'router', rebalance: false },
    fusedOperators: { mc2: false, elementwise: false },
  },
  memoryPolicy: 'planner',
  assumed: PRO_ASSUMED,
};

export const PRO_T1_AFTER: TrainingCase = {
  id: 'PRO-T1 after',
  arch: 'pangu-pro-moe',
  cluster: `atlas-800t-a2:${PRO_DEVICES}`,
  plan: { tp: 8, cp: 1, ep: 16, pp: 5, vpp: 5, dp: 102, microBatchSize: 1, globalBatchSize: PRO_GLOBAL_BATCH, seqLength: 4096, sequenceParallel: true, noopLayers: 2 },
  options: { overlap: true, dispatch: 'hierarchical', layerLayout: 'uniform', expertLoad: { kind: 'router', rebalance: false }, fusedOperators: { mc2: true, elementwise: true } },
  memoryPolicy: 'planner',
  assumed: PRO_ASSUMED,
};

/** Published figures (targets.md). */
export const PUBLISHED = {
  'ULT-T1': { mfu: 0.3, tokensPerSecond: 1.46e6, source: 'arXiv 2505.04519 (Pangu Ultra MoE)' },
  'ULT-T0': { mfu: 0.189, tokensPerSecond: 0.61e6, source: 'arXiv 2505.04519 (Pangu Ultra MoE)' },
  'PRO-T1': { relativeMfuGain: 0.35, source: 'arXiv 2505.21411 (Pangu Pro MoE) Table 2, §3' },
} as const;
