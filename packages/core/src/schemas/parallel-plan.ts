import { z } from 'zod';

const positiveInt = z.number().int().positive();

/** Modules whose activations can be recomputed in backward instead of kept (Megatron/MindSpeed names in comments). */
export const RecomputeModuleSchema = z.enum([
  'layer', // whole transformer layer (Megatron --recompute-granularity full)
  'attention-core', // softmax(QK^T)V (Megatron selective)
  'mla-up-proj', // MLA q/kv up-projections (Pangu Ultra fine-grained)
  'permute', // MoE token permute/unpermute buffers (Pangu Ultra fine-grained)
  'activation', // SwiGLU activation function (MindSpeed --recompute-activation-function)
  'norm', // RMSNorm outputs (MindSpeed --recompute-norm)
]);
export type RecomputeModule = z.infer<typeof RecomputeModuleSchema>;

/** Activations that can be swapped to host memory between forward and backward. */
export const SwapModuleSchema = z.enum(['attention', 'mlp', 'moe', 'layer-input']);
export type SwapModule = z.infer<typeof SwapModuleSchema>;

const ParallelPlanObject = z.strictObject({
  /** Tensor parallel size (attention and dense FFN). */
  tp: positiveInt.default(1),
  /** Context parallel size (sequence split across devices for attention). */
  cp: positiveInt.default(1),
  /** Data parallel size of the attention / dense side. */
  dp: positiveInt.default(1),
  /** Pipeline parallel stages. */
  pp: positiveInt.default(1),
  /** Virtual pipeline chunks per stage (interleaved 1F1B); 1 = plain 1F1B. */
  vpp: positiveInt.default(1),
  /** Expert parallel size. */
  ep: positiveInt.default(1),
  /** Expert tensor parallel size. */
  etp: positiveInt.default(1),
  /** Megatron sequence parallelism (norm/dropout activations split over TP). */
  sequenceParallel: z.boolean().default(false),
  /** Sequences per micro-batch per data-parallel rank. */
  microBatchSize: positiveInt.default(1),
  /** Sequences per optimizer step over all data-parallel ranks. */
  globalBatchSize: positiveInt.default(1),
  /** Tokens per sequence. */
  seqLength: positiveInt.default(4096),
  /** Modules recomputed in backward; empty = keep everything. */
  recompute: z.array(RecomputeModuleSchema).default([]),
  /** With 'layer' recompute: how many layers per stage are recomputed (undefined = all). */
  recomputeNumLayers: z.number().int().nonnegative().optional(),
  /** Activations swapped to host memory (with prefetch before backward). */
  swap: z.array(SwapModuleSchema).default([]),
  /** Distributed optimizer: optimizer states (and master weights) sharded over data parallel. */
  distributedOptimizer: z.boolean().default(true),
  /** No-op layers added to make layers divide evenly over pp × vpp (Pangu Pro: 48 + 2). */
  noopLayers: z.number().int().nonnegative().default(0),
});

/**
 * Micro-batches per optimizer step a plan may have. Real runs use up to a few thousand; the schedule
 * is simulated task by task, and far beyond this a simulation would run out of memory.
 */
export const MAX_MICRO_BATCHES = 100_000;

/**
 * A parallel layout (Megatron-LM / MindSpeed conventions). World size = tp × cp × dp × pp; on the
 * expert side the same tp × cp × dp devices of a stage are regrouped as ep × etp × edp.
 */
export const ParallelPlanSchema = ParallelPlanObject.superRefine((p, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const stageDevices = p.tp * p.cp * p.dp;
  if (stageDevices % (p.ep * p.etp) !== 0) {
    issue('ep', `ep × etp (${p.ep}×${p.etp}) dividing tp × cp × dp (${stageDevices}) — the devices of one stage`);
  }
  if (p.globalBatchSize % (p.microBatchSize * p.dp) !== 0) {
    issue('globalBatchSize', `a multiple of microBatchSize × dp (${p.microBatchSize}×${p.dp})`);
  } else if (p.globalBatchSize / (p.microBatchSize * p.dp) > MAX_MICRO_BATCHES) {
    issue('globalBatchSize', `at most ${MAX_MICRO_BATCHES} micro-batches per step (globalBatchSize / (microBatchSize × dp) = ${p.globalBatchSize / (p.microBatchSize * p.dp)}): the simulators run the schedule task by task; raise microBatchSize or dp`);
  }
  if (p.vpp > 1 && p.pp === 1) issue('vpp', '1 when pp is 1 (interleaving needs several stages)');
  if (p.seqLength % p.cp !== 0) issue('seqLength', `a multiple of cp (${p.cp})`);
  // It counts the blocks per chunk recomputed whole; without 'layer' every tool would drop it silently.
  if (p.recomputeNumLayers !== undefined && !p.recompute.includes('layer')) {
    issue('recomputeNumLayers', 'nothing unless recompute includes "layer" (it counts the layers per chunk recomputed whole); add "layer" to recompute or drop it');
  }
});
export type ParallelPlan = z.output<typeof ParallelPlanSchema>;
export type ParallelPlanInput = z.input<typeof ParallelPlanSchema>;

/**
 * The JSON input of a serving plan, ready for ParallelPlanSchema: the schema wants globalBatchSize to
 * be a multiple of microBatchSize × dp, which means nothing for serving, so when it is left out it is
 * that product. Anything else (not an object, bad dp) is passed through for the schema to name.
 */
export function servingPlanInput(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || 'globalBatchSize' in input) return input;
  const r = input as { dp?: unknown; microBatchSize?: unknown };
  const dp = typeof r.dp === 'number' ? r.dp : 1;
  const mbs = typeof r.microBatchSize === 'number' ? r.microBatchSize : 1;
  return { ...input, globalBatchSize: dp * mbs };
}

/** Devices the plan occupies. */
export function planWorldSize(p: ParallelPlan): number {
  return p.tp * p.cp * p.dp * p.pp;
}

/** Expert data-parallel size: how many replicas of each expert shard a stage holds. */
export function planExpertDataParallel(p: ParallelPlan): number {
  return (p.tp * p.cp * p.dp) / (p.ep * p.etp);
}

/** Micro-batches per optimizer step on each pipeline. */
export function planNumMicroBatches(p: ParallelPlan): number {
  return p.globalBatchSize / (p.microBatchSize * p.dp);
}
