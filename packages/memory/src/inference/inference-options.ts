import { z } from 'zod';
import { DTypeSchema, QuantizationSchema } from '@moge/core';

export const InferenceMemoryOptionsSchema = z.strictObject({
  /** Memory of one device (bytes); e.g. a ChipSpec's hbmBytes. */
  hbmBytes: z.number().positive(),
  /** Tokens of context every sequence may reach (prompt + generated). */
  contextLength: z.number().int().positive(),
  /** Sequences per attention data-parallel rank to size the KV cache for (the max batch is reported either way). */
  batch: z.number().int().nonnegative().default(1),
  /** Weight quantisation; activations and KV follow `kvDType`. */
  quantization: QuantizationSchema.default('bf16'),
  kvDType: DTypeSchema.default('bf16'),
  /** Fraction of device memory the engine may use (vLLM's gpu_memory_utilization, default 0.9). */
  memoryUtilization: z.number().gt(0).max(1).default(0.9),
  /** Tokens per KV block; a sequence takes whole blocks (vLLM defaults to 16, vLLM-Ascend to 128). */
  blockSize: z.number().int().positive().default(16),
  /** Largest number of tokens in one forward (chunked-prefill budget); sizes the activation workspace. Default: contextLength. */
  maxBatchedTokens: z.number().int().positive().optional(),
  /**
   * Sequences one forward may carry (vLLM's `--max-num-seqs`). vLLM's profiling run samples that many
   * at once, so the last pipeline stage reserves their fp32 logits over the whole vocabulary in its
   * workspace. Default 256: vLLM's EngineArgs default (`_set_default_args_v1`) for devices under 70 GiB,
   * such as the 64 GB Ascend 910B of an Atlas 800I A2 (vLLM raises it to 1024 on ≥ 70 GiB GPUs other
   * than the A100: pass that value for those).
   */
  maxNumSeqs: z.number().int().positive().default(256),
  /** Load the MTP modules (speculative decoding) and give them KV cache. */
  includeMtp: z.boolean().default(false),
  /**
   * Layers of each pipeline stage, first to last (vLLM's VLLM_PP_LAYER_PARTITION, e.g. [12, 12, 11, 13]):
   * plan.pp entries summing to numLayers. Default vLLM's split (servingStages).
   */
  ppLayerPartition: z.array(z.number().int().positive()).optional(),
  /** Runtime context, communication buffers, graph caches (bytes). */
  frameworkOverheadBytes: z.number().nonnegative().default(0),
});
export type InferenceMemoryOptions = z.output<typeof InferenceMemoryOptionsSchema>;
export type InferenceMemoryOptionsInput = z.input<typeof InferenceMemoryOptionsSchema>;
