import { z } from 'zod';
import { DTypeSchema } from '@moge/core';

/** A device↔host link as @moge/ascend-hal's `LinkTier` describes it (only the fields swap timing needs). */
export const HostLinkSchema = z.object({
  /** Bytes per second one way. */
  bandwidth: z.number().positive(),
  latencyS: z.number().nonnegative(),
});
export type HostLink = z.infer<typeof HostLinkSchema>;

/**
 * Knobs of the training memory model that a MoeArch and a ParallelPlan do not say. Defaults describe a
 * modern Megatron-LM / MindSpeed bf16 run (fused flash attention, no dropout, SwiGLU, fp32 gradient
 * accumulation, Adam with fp32 master weights). The non-default settings exist so the same estimator
 * can express the GPT-3-style configuration of Korthikanti et al. (2022) that its tests check against.
 */
export const TrainingMemoryOptionsSchema = z.strictObject({
  /** Element type of activations kept for backward. */
  activationDType: DTypeSchema.default('bf16'),
  /** Element type of the weights the forward reads. */
  paramDType: DTypeSchema.default('bf16'),
  /** Element type of the gradient buffer (Megatron accumulates bf16 runs' gradients in fp32 by default). */
  gradDType: DTypeSchema.default('fp32'),
  /** Fp32 master copy of the weights kept by the mixed-precision optimizer; null = none (pure-fp32 or pure-bf16 training). */
  masterWeightDType: DTypeSchema.nullable().default('fp32'),
  /** Element type of the optimizer moments. */
  optimizerStateDType: DTypeSchema.default('fp32'),
  /** Optimizer moments per parameter: 2 for Adam/AdamW, 1 for SGD with momentum, 0 for plain SGD. */
  optimizerMoments: z.number().int().min(0).max(4).default(2),
  /**
   * Fused (flash) attention: keeps softmax statistics instead of the s×s score matrices. With dropout it
   * regenerates the mask from the RNG seed, so no mask is kept either.
   */
  flashAttention: z.boolean().default(true),
  /** Dropout after attention, after the MLP and on attention probabilities (GPT-3 style); off in today's LLMs. */
  dropout: z.boolean().default(false),
  /**
   * Activation function of the dense MLP. MoeArch describes SwiGLU models; `gelu` (two matrices, one
   * activation) reproduces the 4h-GeLU MLP of GPT-3 and of Korthikanti et al.'s formula.
   */
  denseMlpActivation: z.enum(['swiglu', 'gelu']).default('swiglu'),
  /**
   * Busiest device's routed-token load over the mean (≥ 1). Scales every routed-token buffer on the
   * device. 1 = perfect balance, which MoGE guarantees at device level when every EP rank holds one group.
   */
  loadImbalanceFactor: z.number().min(1).default(1),
  /** Runtime context, communication buffers and allocator fragmentation, added to every device (bytes). */
  frameworkOverheadBytes: z.number().nonnegative().default(0),
  /**
   * Multiplies the activation memory counted tensor by tensor (≥ 1; 1 = the count as is): for what the
   * count leaves out and grows with the activations — allocator fragmentation under changing
   * routed-token shapes, short-lived buffers of a framework's kernels. Set it from a measured peak.
   */
  activationOverheadFactor: z.number().min(1).default(1),
  /**
   * Swapped activations stay resident for this many layers of the micro-batch in backward (one in use,
   * one being prefetched), so a swap never frees everything.
   */
  swapPrefetchLayers: z.number().int().min(1).default(2),
  /** Device↔host link that swapped activations cross (bytes/s and per-transfer latency); without it swap time is not reported. */
  hostLink: HostLinkSchema.optional(),
});
export type TrainingMemoryOptions = z.output<typeof TrainingMemoryOptionsSchema>;
export type TrainingMemoryOptionsInput = z.input<typeof TrainingMemoryOptionsSchema>;
