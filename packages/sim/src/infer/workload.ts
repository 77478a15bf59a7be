import { z } from 'zod';
import { DTypeSchema, QuantizationSchema, RoutingStatsSchema } from '@moge/core';

const positiveInt = z.number().int().positive();

/**
 * Speculative decoding with multi-token-prediction heads: each step the MTP module drafts `depth`
 * tokens one after another, then the main model verifies all of them in one forward. Each draft is
 * accepted with probability `acceptanceRate` until the first rejection; the verify pass adds one
 * token of its own.
 */
export const SpeculationSchema = z.object({
  method: z.literal('mtp'),
  depth: z.number().int().min(1).max(8),
  acceptanceRate: z.number().min(0).max(1),
});
export type Speculation = z.infer<typeof SpeculationSchema>;

/**
 * Inference-only parts of a layout that a ParallelPlan does not state (Pangu Pro's H2P). The plan
 * gives attention as DP × TP (`dp`, `tp`), routed experts as TP × EP (`etp`, `ep`) and whether the
 * TP all-reduce is split into reduce-scatter + all-gather around the norm (`sequenceParallel`).
 */
export const InferenceLayoutSchema = z.object({
  /** Tensor-parallel size of the shared expert (H2P: 8, every device of the node); default the attention TP. */
  sharedExpertTp: positiveInt.optional(),
  /** Run each TP collective inside the matmul beside it (MC2-style fused kernels), hiding it under that matmul. */
  fuseCollectives: z.boolean().default(false),
  /**
   * Layers of each pipeline stage, first to last (vLLM's VLLM_PP_LAYER_PARTITION, e.g. [12, 12, 11, 13]):
   * plan.pp entries summing to numLayers. Default vLLM's split (@moge/memory's servingStages).
   */
  ppLayerPartition: z.array(positiveInt).optional(),
});
export type InferenceLayout = z.output<typeof InferenceLayoutSchema>;

/**
 * Expert popularity: `balanced` (every expert equally likely: MoGE, or a well-balanced router),
 * `zipf` (skewed popularity, exponent 0 = uniform), or `trace` (measured RoutingStats).
 */
export const RoutingSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('balanced') }),
  z.object({ kind: z.literal('zipf'), exponent: z.number().nonnegative() }),
  z.object({ kind: z.literal('trace'), stats: RoutingStatsSchema }),
]);
export type RoutingSource = z.infer<typeof RoutingSourceSchema>;

/**
 * One inference step to simulate. `batch` counts sequences over the whole deployment (all attention
 * data-parallel ranks), as papers report it ("batch 456 on 4 cards").
 */
export const InferenceWorkloadSchema = z
  .object({
    phase: z.enum(['prefill', 'decode']),
    batch: positiveInt,
    /** Prompt tokens per sequence (prefill processes all of them). */
    inputLength: positiveInt,
    /** Decode: tokens already in each sequence's KV cache; default inputLength (the first decode step). */
    contextLength: positiveInt.optional(),
    quantization: QuantizationSchema.default('bf16'),
    /** KV-cache format (int8 = KV quantisation). */
    kvDType: DTypeSchema.default('bf16'),
    /**
     * Sequences the sampler takes at once (vLLM's --max-num-seqs), whose fp32 logits the memory
     * workspace holds; default @moge/memory's (256, vLLM's on devices under 70 GiB).
     */
    maxNumSeqs: positiveInt.optional(),
    speculation: SpeculationSchema.optional(),
    layout: InferenceLayoutSchema.default({ fuseCollectives: false }),
    routing: RoutingSourceSchema.default({ kind: 'balanced' }),
  })
  .strict()
  // Fields the phase has no use for were dropped without a word: a prefill has no decode context and
  // drafts nothing, and a decode step's KV cache already holds the whole prompt.
  .superRefine((w, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], input: w[path as keyof typeof w], message });
    if (w.phase === 'prefill') {
      if (w.contextLength !== undefined) issue('contextLength', 'nothing in prefill (the context is the prompt, inputLength); drop it, or use phase "decode"');
      if (w.speculation !== undefined) issue('speculation', 'nothing in prefill (MTP drafts decode tokens); drop it, or use phase "decode"');
    } else if (w.contextLength !== undefined && w.contextLength < w.inputLength) {
      issue('contextLength', `at least inputLength (${w.inputLength}): the KV cache of a decode step holds the whole prompt`);
    }
  });
export type InferenceWorkload = z.output<typeof InferenceWorkloadSchema>;
export type InferenceWorkloadInput = z.input<typeof InferenceWorkloadSchema>;

/** Tokens each sequence holds in the KV cache during this step. */
export function contextOf(w: InferenceWorkload): number {
  return w.phase === 'prefill' ? w.inputLength : (w.contextLength ?? w.inputLength);
}

/**
 * Tokens one decode step yields per sequence on average: 1 without speculation; with MTP of depth d
 * and acceptance a, 1 + a + a² + … + a^d (the verified drafts until the first rejection, plus the
 * verify pass's own token).
 */
export function acceptedTokensPerStep(s: Speculation | undefined): number {
  if (!s) return 1;
  let total = 1;
  let p = 1;
  for (let i = 0; i < s.depth; i++) {
    p *= s.acceptanceRate;
    total += p;
  }
  return total;
}
