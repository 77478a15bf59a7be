/**
 * Global gradient norm over every parameter, summed in the given (parameter) order in float64 so the
 * value is reproducible, and clipping to `maxNorm` by one common scale (direction kept).
 */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  return Math.sqrt(ss);
}

/** Scales every gradient in place so the global norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  const norm = globalGradNorm(grads);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
  }
  return norm;
}
