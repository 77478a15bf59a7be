import { z } from 'zod';

/**
 * Learning-rate schedules. Both start with a linear warmup from 0 to `peakLr`.
 * - `cosine`: then half a cosine from `peakLr` down to `minLr` at `totalSteps`.
 * - `wsd` (warmup–stable–decay, MiniCPM): hold `peakLr`, then decay linearly to `minLr` over the
 *   last `decayFraction` of the steps — a run can be extended without re-planning its whole curve.
 */
export const LrScheduleSchema = z
  .object({
    kind: z.enum(['cosine', 'wsd']).default('cosine'),
    peakLr: z.number().positive().default(3e-3),
    minLr: z.number().nonnegative().default(3e-4),
    warmupSteps: z.number().int().nonnegative().default(20),
    totalSteps: z.number().int().positive(),
    decayFraction: z.number().gt(0).max(1).default(0.2),
  })
  .refine((s) => s.minLr <= s.peakLr, { message: 'minLr at most peakLr', path: ['minLr'] });
export type LrSchedule = z.output<typeof LrScheduleSchema>;
export type LrScheduleInput = z.input<typeof LrScheduleSchema>;

/** Learning rate of optimizer step `step` (1-based: the first update is step 1). */
export function learningRate(s: LrSchedule, step: number): number {
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.peakLr * step) / s.warmupSteps;
  if (step >= s.totalSteps) return s.minLr;
  if (s.kind === 'cosine') {
    const progress = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
    return s.minLr + 0.5 * (s.peakLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
  }
  const decaySteps = Math.max(1, Math.round(s.totalSteps * s.decayFraction));
  const decayStart = s.totalSteps - decaySteps;
  if (step <= decayStart) return s.peakLr;
  return s.peakLr + ((s.minLr - s.peakLr) * (step - decayStart)) / decaySteps;
}
