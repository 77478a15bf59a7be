import { z } from 'zod';
import { DTypeSchema, SourcedNumberSchema } from '@moge/core';

/** One timed GEMM `[m×k]·[k×n]` of a microbenchmark. */
export const MatmulRowSchema = z.object({
  m: z.number().int().positive(),
  k: z.number().int().positive(),
  n: z.number().int().positive(),
  dtype: DTypeSchema,
  timeS: z.number().positive(),
});
export type MatmulRow = z.infer<typeof MatmulRowSchema>;

/**
 * Compute efficiency of the matrix unit as a function of the work W (FLOPs) of one kernel:
 * `eff(W) = effMax · (1 − exp(−(W / w0Flops)^alpha))`. Small kernels cannot fill the chip (tiles,
 * waves, pipeline fill); large ones saturate at effMax. Memory-bound shapes (small M) are left to
 * the roofline rather than bent into the curve.
 */
export const MatmulCurveSchema = z.object({
  effMax: SourcedNumberSchema.refine((s) => s.value > 0 && s.value <= 1, { message: 'effMax in (0, 1]' }),
  w0Flops: SourcedNumberSchema.refine((s) => s.value > 0, { message: 'w0Flops > 0' }),
  // alpha ≤ 1 keeps time = W / (peak · eff(W)) increasing in W (W·eff′/eff ≤ alpha): above 1, a bigger
  // matmul could come out faster than a smaller one.
  alpha: SourcedNumberSchema.refine((s) => s.value > 0 && s.value <= 1, { message: 'alpha in (0, 1] (above 1 a bigger matmul could cost less time)' }),
});
export type MatmulCurve = z.infer<typeof MatmulCurveSchema>;

/** The measurements a profile was fitted to, kept beside the fit so that anyone can refit. */
export const ProfileMeasurementsSchema = z.object({
  source: z.string().min(1),
  /** How the rows were timed (framework, repetitions). */
  method: z.string().min(1),
  matmul: z.array(MatmulRowSchema),
  /** Device-to-device copy, bytes read + written per second. */
  copyBandwidth: z.number().positive().optional(),
});

/** A chip's efficiency profile (profiles/*.json): fitted to measurements or assumed, and says which. */
export const EfficiencyProfileSchema = z.object({
  name: z.string().min(1),
  description: z.string().min(1),
  matmul: MatmulCurveSchema,
  /** Fraction of peak HBM bandwidth a streaming kernel reaches. */
  hbmEfficiency: SourcedNumberSchema.refine((s) => s.value > 0 && s.value <= 1, { message: 'hbmEfficiency in (0, 1]' }),
  /** Fixed time per kernel launch in seconds (launch, framework dispatch, tail). */
  launchOverheadS: SourcedNumberSchema.refine((s) => s.value >= 0, { message: 'launchOverheadS ≥ 0' }),
  /** Fused attention's compute efficiency relative to a GEMM of the same work (softmax, masking). */
  attentionEfficiency: SourcedNumberSchema.refine((s) => s.value > 0 && s.value <= 1, { message: 'attentionEfficiency in (0, 1]' }),
  /** Vector-unit efficiency of elementwise work relative to the fp32 peak. */
  vectorEfficiency: SourcedNumberSchema.refine((s) => s.value > 0 && s.value <= 1, { message: 'vectorEfficiency in (0, 1]' }),
  measurements: ProfileMeasurementsSchema.optional(),
});
export type EfficiencyProfile = z.infer<typeof EfficiencyProfileSchema>;

/** The matmul efficiency curve at `workFlops`. */
export function matmulEfficiency(curve: MatmulCurve, workFlops: number): number {
  if (workFlops <= 0) return curve.effMax.value;
  return curve.effMax.value * -Math.expm1(-Math.pow(workFlops / curve.w0Flops.value, curve.alpha.value));
}
