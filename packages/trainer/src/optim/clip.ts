import { jsVectorMath, type VectorMath } from '@moge/ascend-hal';

/**
 * Global gradient norm over every parameter, the per-parameter sums of squares added in float64 in
 * parameter order so the value is reproducible, and clipping to `maxNorm` by one common scale
 * (direction kept). `math` runs the passes over the arrays (the trainer passes OpenBLAS's, from
 * `vectorMath()`; the JS loops by default).
 */
export function globalGradNorm(grads: Iterable<Float32Array>, math: VectorMath = jsVectorMath): number {
  let ss = 0;
  for (const g of grads) ss += math.sumSquares(g);
  return Math.sqrt(ss);
}

/** The factor that brings a gradient of norm `norm` down to `maxNorm`, or undefined when it is within. */
export function clipScale(norm: number, maxNorm: number): number | undefined {
  return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : undefined;
}

/** Scales every gradient in place so the global norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number, math: VectorMath = jsVectorMath): number {
  const norm = globalGradNorm(grads, math);
  const scale = clipScale(norm, maxNorm);
  if (scale !== undefined) for (const g of grads) math.scale(g, scale);
  return norm;
}
