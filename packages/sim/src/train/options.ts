import { z } from 'zod';
import { RoutingStatsSchema } from '@moge/core';
import { ALL_ELEMENTWISE_FUSED, NO_ELEMENTWISE_FUSED, type ElementwiseFusion } from '../common/elementwise-kernels';

/**
 * Where the busiest expert-parallel device's load comes from:
 * - `router`: from the architecture's router (MoGE: equal by construction when every EP rank holds
 *   whole groups; top-k: Zipf-skewed expert popularity from the profile), with or without
 *   ep-planner's rebalancing (replication and packing of hot experts);
 * - `trace`: from measured router statistics (RoutingStats), with or without rebalancing;
 * - `factor`: a given busiest/mean ratio; `balanced`: 1.
 */
export const ExpertLoadSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('router'), rebalance: z.boolean().default(true) }),
  z.object({ kind: z.literal('trace'), stats: RoutingStatsSchema, rebalance: z.boolean().default(true) }),
  z.object({ kind: z.literal('factor'), value: z.number().min(1) }),
  z.object({ kind: z.literal('balanced') }),
]);
export type ExpertLoad = z.infer<typeof ExpertLoadSchema>;

/** Communication/computation overlap switches (all on = the Pangu Ultra adaptive pipe overlap). */
export const OverlapSchema = z.object({
  /** One micro-batch's compute hides another's communication in steady-state forward/backward pairs. */
  pipeline: z.boolean().default(true),
  /** Inside a layer: shared expert under dispatch, ring attention, expert weight-grad under the backward exchange, swap prefetch. */
  intraLayer: z.boolean().default(true),
  /** Gradient reduce-scatter during backward and parameter all-gather during forward (Megatron overlap-grad-reduce / param-gather). */
  dataParallel: z.boolean().default(true),
});
export type Overlap = z.infer<typeof OverlapSchema>;

/**
 * The fused operators MindSpeed offers, each a launch switch:
 * - `mc2`: tensor-parallel all-gather / reduce-scatter fused with the matmul beside them (Ascend MC2,
 *   `--use-ascend-mc2`), so the transfer runs under that matmul; default off.
 * - `elementwise`: the memory-bound kernels (`--use-fused-rmsnorm`, `--use-fused-rotary-pos-emb`,
 *   `--use-fused-swiglu`, `--use-fused-moe-token-permute-and-unpermute`); `true` = all fused (the
 *   default: MindSpeed's standard recipes), `false` = all run as the unfused PyTorch / Megatron op
 *   chains (their HBM passes and launches: src/common/elementwise-kernels.ts), or one switch each.
 */
// Strict: a misspelt switch (`elementwize`) would otherwise be dropped and the default silently used.
export const FusedOperatorsSchema = z.strictObject({
  mc2: z.boolean().default(false),
  elementwise: z
    .union([
      z.boolean(),
      z.strictObject({
        rmsNorm: z.boolean().default(true),
        rope: z.boolean().default(true),
        swiglu: z.boolean().default(true),
        moePermute: z.boolean().default(true),
      }),
    ])
    .default(true),
});
export type FusedOperators = z.output<typeof FusedOperatorsSchema>;

export const TrainingSimOptionsSchema = z.strictObject({
  /** Simulator profile (profiles/*.json); default: the calibrated one for the chip, else `uncalibrated`. */
  profile: z.string().optional(),
  /** `false` switches every overlap off; an object picks. */
  overlap: z.union([z.boolean(), OverlapSchema]).default(true),
  /** Expert-parallel all-to-all: flat, or hierarchical (inter-node all-gather, then intra-node exchange). */
  dispatch: z.enum(['flat', 'hierarchical']).default('hierarchical'),
  expertLoad: ExpertLoadSchema.default({ kind: 'router', rebalance: true }),
  /** Element type gradients are reduced in over data parallel (Megatron reduces fp32 main grads by default). */
  gradReduceDType: z.enum(['fp32', 'bf16']).default('fp32'),
  /**
   * Split of the layers over the model chunks: `uniform` (Megatron's default, the plan's no-op slots at
   * the end) or `balanced` (per-chunk layer counts that even out the stages, embedding, head and MTP included).
   */
  layerLayout: z.enum(['uniform', 'balanced']).default('balanced'),
  /**
   * Fused operators (see FusedOperatorsSchema). A boolean is the MC2 switch alone, as before fused
   * elementwise kernels were modelled: `true` = MC2 on, `false` = off, elementwise kernels fused either way.
   */
  fusedOperators: z.union([z.boolean(), FusedOperatorsSchema]).default(false),
  /** Build the Chrome trace (costs memory on large schedules). */
  trace: z.boolean().default(false),
});
export type TrainingSimOptions = z.output<typeof TrainingSimOptionsSchema>;
export type TrainingSimOptionsInput = z.input<typeof TrainingSimOptionsSchema>;

export function resolveOverlap(o: TrainingSimOptions['overlap']): Overlap {
  if (typeof o === 'boolean') return { pipeline: o, intraLayer: o, dataParallel: o };
  return o;
}

/** MC2 on or off, and the fusion of each memory-bound kernel family, from the option's boolean or object form. */
export function resolveFusedOperators(o: TrainingSimOptions['fusedOperators']): { mc2: boolean; elementwise: ElementwiseFusion } {
  if (typeof o === 'boolean') return { mc2: o, elementwise: { ...ALL_ELEMENTWISE_FUSED } };
  const e = o.elementwise;
  return { mc2: o.mc2, elementwise: typeof e === 'boolean' ? { ...(e ? ALL_ELEMENTWISE_FUSED : NO_ELEMENTWISE_FUSED) } : e };
}
