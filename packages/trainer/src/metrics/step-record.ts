import { z } from 'zod';

/** One line of the metrics JSONL: what one optimizer step did. */
export const StepRecordSchema = z.object({
  step: z.number().int().positive(),
  /** Mean next-token cross-entropy over the step's micro-batches (nats/token). */
  loss: z.number(),
  /** Mean over micro-batches of Σ_layers aux (unscaled); the trained objective adds α times this. */
  auxLoss: z.number(),
  lr: z.number(),
  /** Global gradient norm before clipping. */
  gradNorm: z.number(),
  tokens: z.number().int().nonnegative(),
  tokensPerSecond: z.number().nonnegative(),
  elapsedS: z.number().nonnegative(),
  /** Per layer: Imbalance Score over the EP devices, mean over the step's micro-batches. */
  imbalanceScore: z.array(z.number()),
  /** Per layer: token→expert assignments per expert over the whole step. */
  expertLoads: z.array(z.array(z.number())),
  /** Held-out cross-entropy, on evaluation steps. */
  evalLoss: z.number().optional(),
});
export type StepRecord = z.infer<typeof StepRecordSchema>;
