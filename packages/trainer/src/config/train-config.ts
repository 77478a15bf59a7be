import { z } from 'zod';
import { RouterKindSchema } from '@moge/core';
import { AdamWConfigSchema } from '../optim/adamw';
import { LrScheduleSchema, type LrSchedule } from '../optim/schedule';
import { HELD_OUT_SPLIT_RULES, LATEST_HELD_OUT_SPLIT } from '../data/held-out';

/**
 * Everything that decides what a training run computes. It is stored in every checkpoint; a resumed
 * run takes it from there, which is what makes a resume reproduce the uninterrupted run. `steps` may
 * also grow on resume: the learning-rate schedule is then planned over the new length (as Hugging
 * Face's Trainer does), which re-plans the steps already taken unless the schedule's start does not
 * depend on the length (`wsd` with `warmupSteps` given, before its decay).
 */
export const TrainConfigSchema = z
  .object({
    /** Model to start from: a preset name (random init) … */
    preset: z.string().min(1).optional(),
    /** … or an HF model directory (config.json + model.safetensors [+ tokenizer.json]) to continue training. */
    modelDir: z.string().min(1).optional(),
    /** Overrides the architecture's router: the same model trained with MoGE or plain top-k. */
    router: RouterKindSchema.extract(['moge', 'topk']).optional(),
    /**
     * EP devices the Imbalance Score is measured on (experts in contiguous blocks, one per device).
     * Default: the base model's expert groups, so a top-k run of a MoGE model is judged on the same
     * devices as the MoGE run. Fixed when a run starts and stored in its checkpoints.
     */
    epDevices: z.number().int().positive().optional(),
    /** Overrides the architecture's vocabulary (the tokenizer is trained to this size). */
    vocabSize: z.number().int().min(258).optional(),
    /** Text / JSONL files or directories; empty = the State of the Union corpus. */
    data: z.array(z.string().min(1)).default([]),
    /** Use only the first N documents of the corpus (in its fixed order): short runs, CI. */
    maxDocuments: z.number().int().positive().optional(),
    steps: z.number().int().positive(),
    seed: z.number().int().min(0).max(0xffffffff).default(0),
    seqLen: z.number().int().min(2).default(128),
    /** Sequences per optimizer step over all workers. */
    globalBatch: z.number().int().positive().default(8),
    /** Sequences per forward/backward; globalBatch / microBatch micro-batches are accumulated. */
    microBatch: z.number().int().positive().default(4),
    workers: z.number().int().min(1).max(64).default(1),
    /**
     * How the workers split the work: `dp` (every worker holds every expert) or `ep` (each owns the
     * experts of its MoGE groups; tokens are dispatched by all-to-all). Default: `ep` when the workers
     * divide the expert groups, else `dp`. Not stored as resolved, so a resume may change `workers`.
     */
    parallel: z.enum(['dp', 'ep']).optional(),
    backend: z.enum(['reference', 'onnxruntime']).default('onnxruntime'),
    /**
     * onnxruntime intra-op threads per worker. Default 1: every cached onnxruntime session owns a
     * spinning thread pool, and with dozens of sessions on a few cores more threads per worker made
     * a moge-small step 2.5× slower on 2 cores (bench/run.ts); use workers for parallelism instead.
     */
    intraOpThreads: z.number().int().min(1).max(256).default(1),
    /**
     * onnxruntime backend: each layer's activations go back to a buffer pool after its backward
     * instead of waiting for the garbage collector (fewer collections, less CPU). Default true; false
     * is for comparison (bench/run.ts --no-recycle).
     */
    recycleBuffers: z.boolean().default(true),
    schedule: z
      .object({
        kind: z.enum(['cosine', 'wsd']).default('cosine'),
        peakLr: z.number().positive().default(3e-3),
        minLr: z.number().nonnegative().default(3e-4),
        warmupSteps: z.number().int().nonnegative().optional(),
        decayFraction: z.number().gt(0).max(1).default(0.2),
      })
      .prefault({}),
    adamw: AdamWConfigSchema.prefault({}),
    /** Global gradient-norm clip; 0 disables clipping. */
    clipGrad: z.number().nonnegative().default(1),
    /** α of the auxiliary balance loss; default the architecture's routerAuxLossCoef. */
    auxAlpha: z.number().nonnegative().optional(),
    evalEvery: z.number().int().nonnegative().default(25),
    evalBatches: z.number().int().positive().default(2),
    checkpointEvery: z.number().int().nonnegative().default(25),
    keepCheckpoints: z.number().int().min(2).default(2),
    /** Share of the corpus's tokens held out for evaluation (at least one sequence; see data/held-out.ts). */
    heldOutFraction: z.number().gt(0).lt(1).default(0.05),
    /**
     * The rule that splits the held-out tokens off (data/held-out.ts). New runs take the latest and
     * store it, so a resume keeps the split the run trained with when the rule changes; a config
     * saved before this field existed reads as rule 1 (SavedTrainConfigSchema).
     */
    heldOutSplit: z.literal(HELD_OUT_SPLIT_RULES).default(LATEST_HELD_OUT_SPLIT),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (!c.preset === !c.modelDir) issue('preset', 'exactly one of preset or modelDir');
    // lrScheduleOf checks this too, but only when the loop starts (inside a worker thread when
    // workers > 1, where the error arrived with no message): refuse it here, at the boundary.
    if (c.schedule.minLr > c.schedule.peakLr) {
      ctx.addIssue({ code: 'custom', path: ['schedule', 'minLr'], message: `at most schedule.peakLr (${c.schedule.peakLr}), but it is ${c.schedule.minLr}; the schedule decays from peakLr down to minLr (lower minLr or raise peakLr, --lr)` });
    }
    if (c.globalBatch % (c.microBatch * c.workers) !== 0) {
      // Name the values in effect: the ones not given are defaults, which "got nothing" would hide.
      issue('globalBatch', `a multiple of microBatch × workers (${c.microBatch} × ${c.workers}), but it is ${c.globalBatch}; each worker runs whole micro-batches (set --global-batch, --micro-batch or --workers)`);
    }
  });
export type TrainConfig = z.output<typeof TrainConfigSchema>;

/**
 * A run's config as a checkpoint stores it. Runs saved before `heldOutSplit` existed were split by
 * rule 1 and keep it: read as the latest, their held-out loss would be measured on documents they
 * trained on, and their training stream would shift.
 */
export const SavedTrainConfigSchema = z.preprocess(
  (c) => (c !== null && typeof c === 'object' && !Array.isArray(c) && !('heldOutSplit' in c) ? { ...c, heldOutSplit: 1 } : c),
  TrainConfigSchema,
);
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Warmup default: 10 % of the steps, at most 100. (Takes only what it reads: the launch emitters use it too.) */
export function warmupSteps(c: { steps: number; schedule: { warmupSteps?: number } }): number {
  return c.schedule.warmupSteps ?? Math.min(100, Math.ceil(c.steps * 0.1));
}

/** The learning-rate schedule a run follows, over its `steps`. */
export function lrScheduleOf(c: TrainConfig): LrSchedule {
  return LrScheduleSchema.parse({ ...c.schedule, warmupSteps: warmupSteps(c), totalSteps: c.steps });
}
