import { CpuTensor, describeShape, shapeError } from '../cpu/cpu-tensor';

/**
 * Rotary embedding in the rotate-half layout: for i < D/2 the pair (x[i], x[i + D/2]) of every head is
 * rotated by angle pos · θ^(−2i/D). `inverse` rotates by the negative angle — the transpose of the
 * rotation, which is what the backward pass applies to the incoming gradient. Angles in float64.
 */
export function rope(x: CpuTensor, positions: Int32Array, theta: number, options?: { inverse?: boolean }): CpuTensor {
  if (x.shape.length !== 3) throw shapeError('rope', `x must be [T, H, D], got ${describeShape(x.shape)}`);
  const [t, h, d] = x.shape as [number, number, number];
  if (d % 2 !== 0) throw shapeError('rope', `head dimension must be even, got ${d}`);
  if (positions.length !== t) throw shapeError('rope', `positions has ${positions.length} entries for ${t} tokens`);
  const src = x.f32('rope');
  const out = new Float32Array(src.length);
  const half = d / 2;
  const sign = options?.inverse ? -1 : 1;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.pow(theta, (-2 * i) / d);
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let tok = 0; tok < t; tok++) {
    const pos = positions[tok]!;
    for (let i = 0; i < half; i++) {
      const angle = pos * invFreq[i]!;
      cos[i] = Math.cos(angle);
      sin[i] = sign * Math.sin(angle);
    }
    for (let head = 0; head < h; head++) {
      const base = (tok * h + head) * d;
      for (let i = 0; i < half; i++) {
        const x1 = src[base + i]!;
        const x2 = src[base + half + i]!;
        out[base + i] = x1 * cos[i]! - x2 * sin[i]!;
        out[base + half + i] = x2 * cos[i]! + x1 * sin[i]!;
      }
    }
  }
  return new CpuTensor(x.backend, 'f32', x.shape, out);
}
