import { z } from 'zod';
import { RecomputeModuleSchema, SwapModuleSchema } from '@moge/core';
import { TrainingMemoryOptionsSchema } from '../training/options';

/**
 * Rates that turn recompute and swap work into seconds so candidates can be ranked. They are the
 * caller's: the simulator passes its calibrated figures; the CLI takes them from a chip description.
 */
export const CostRatesSchema = z.object({
  /** Achieved matmul FLOP/s of one device (not peak: use an MFU-scaled figure when you have one). */
  flopsPerS: z.number().positive(),
  /** HBM bytes/s for memory-bound kernels. */
  hbmBytesPerS: z.number().positive(),
  /** Bytes/s one device receives over TP/EP collectives. */
  commBytesPerS: z.number().positive(),
});
export type CostRates = z.infer<typeof CostRatesSchema>;

export const PlanMemoryOptionsSchema = TrainingMemoryOptionsSchema.extend({
  rates: CostRatesSchema,
  /** Recompute options the search may use (default: all). */
  allowRecompute: z.array(RecomputeModuleSchema).default(RecomputeModuleSchema.options),
  /** Swap options the search may use (default: all; ignored without a hostLink, since swap time is then unknown). */
  allowSwap: z.array(SwapModuleSchema).default(SwapModuleSchema.options),
  /** Fraction of swap transfer time hidden behind compute by prefetching (0 = none hidden, the safe default). */
  swapOverlap: z.number().min(0).max(1).default(0),
});
export type PlanMemoryOptions = z.output<typeof PlanMemoryOptionsSchema>;
export type PlanMemoryOptionsInput = z.input<typeof PlanMemoryOptionsSchema>;
