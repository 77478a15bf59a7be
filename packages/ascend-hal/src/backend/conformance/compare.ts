import type { HostTensor } from './case-builder';

export interface Tolerance {
  /** Relative tolerance against the oracle value. */
  rtol: number;
  /**
   * Absolute floor, as a fraction of the largest |oracle value| of the output (at least 1): values
   * that cancel to near 0 carry the rounding error of the large terms they came from, not their own.
   */
  atol: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 1e-5 };

/**
 * Compares a candidate's outputs with the oracle's. Shapes and dtypes must match exactly, i32 data
 * (ids) exactly, f32 data within |c − o| ≤ rtol·|o| + atol·max(1, max|o|) with the max over the
 * finite oracle values; NaN matches only NaN and ±∞ only the same infinity. (With an ∞ in the scale,
 * or ∞ − ∞ compared against an allowance of ∞, any finite value or the other infinity would pass.)
 * Returns null when they agree, or a sentence saying where they first differ.
 */
export function compareOutputs(candidate: readonly HostTensor[], oracle: readonly HostTensor[], tol: Tolerance = DEFAULT_TOLERANCE): string | null {
  if (candidate.length !== oracle.length) return `${candidate.length} outputs, expected ${oracle.length}`;
  for (let o = 0; o < oracle.length; o++) {
    const c = candidate[o]!;
    const r = oracle[o]!;
    const shapeOf = (t: HostTensor) => `[${t.shape.join(', ')}]`;
    if (shapeOf(c) !== shapeOf(r)) return `output ${o}: shape ${shapeOf(c)}, expected ${shapeOf(r)}`;
    const isInt = r.data instanceof Int32Array;
    if (isInt !== c.data instanceof Int32Array) return `output ${o}: dtype ${isInt ? 'f32' : 'i32'}, expected ${isInt ? 'i32' : 'f32'}`;
    let scale = 1;
    for (let i = 0; i < r.data.length; i++) if (Number.isFinite(r.data[i]!)) scale = Math.max(scale, Math.abs(r.data[i]!));
    for (let i = 0; i < r.data.length; i++) {
      const want = r.data[i]!;
      const got = c.data[i]!;
      if (Number.isNaN(want) || Number.isNaN(got)) {
        if (Number.isNaN(want) && Number.isNaN(got)) continue;
        return `output ${o}[${i}]: ${got}, expected ${want}`;
      }
      if (!Number.isFinite(want) || !Number.isFinite(got)) {
        if (got === want) continue;
        return `output ${o}[${i}]: ${got}, expected ${want}`;
      }
      const allowed = isInt ? 0 : tol.rtol * Math.abs(want) + tol.atol * scale;
      if (!(Math.abs(got - want) <= allowed) && got !== want) {
        return `output ${o}[${i}]: ${got}, expected ${want} (|Δ| = ${Math.abs(got - want).toExponential(2)} > ${allowed.toExponential(2)})`;
      }
    }
  }
  return null;
}
