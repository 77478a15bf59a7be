import { CpuTensor, allocateOutput, normalizeAxis, shapeError } from '../cpu/cpu-tensor';

/**
 * Views `shape` around `axis` as [outer, len, inner] so a reduction is three plain loops: element
 * (o, r, i) sits at (o·len + r)·inner + i.
 */
function splitAt(shape: readonly number[], axis: number) {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const len = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  return { outer, len, inner, outShape: [...shape.slice(0, axis), ...shape.slice(axis + 1)] };
}

/** Sum over an axis, accumulated in float64; works on f32 and i32 tensors (an i32 sum stays i32). */
export function sum(a: CpuTensor, axis: number): CpuTensor {
  const ax = normalizeAxis(axis, a.shape.length, 'sum');
  const { outer, len, inner, outShape } = splitAt(a.shape, ax);
  const src = a.data;
  const out = allocateOutput(a.dtype, outer * inner);
  if (inner === 1) {
    // Over the last axis: one running float64 sum per row, no accumulator array to clear and copy.
    for (let o = 0, base = 0; o < outer; o++, base += len) {
      let acc = 0;
      for (let r = 0; r < len; r++) acc += src[base + r]!;
      out[o] = acc;
    }
    return new CpuTensor(a.backend, a.dtype, outShape, out);
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    for (let r = 0; r < len; r++) {
      const base = (o * len + r) * inner;
      for (let i = 0; i < inner; i++) acc[i]! += src[base + i]!;
    }
    out.set(acc, o * inner);
  }
  return new CpuTensor(a.backend, a.dtype, outShape, out);
}

/** Max over an axis (NaN propagates); an empty axis has no maximum and throws. */
export function max(a: CpuTensor, axis: number): CpuTensor {
  const ax = normalizeAxis(axis, a.shape.length, 'max');
  const { outer, len, inner, outShape } = splitAt(a.shape, ax);
  if (len === 0 && outer * inner > 0) throw shapeError('max', `axis ${axis} is empty`);
  const src = a.data;
  const out = allocateOutput(a.dtype, outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = src[o * len * inner + i]!;
      for (let r = 1; r < len; r++) {
        const v = src[(o * len + r) * inner + i]!;
        if (v > best || Number.isNaN(v)) best = v;
        if (Number.isNaN(best)) break;
      }
      out[o * inner + i] = best;
    }
  }
  return new CpuTensor(a.backend, a.dtype, outShape, out);
}

export function sumAll(a: CpuTensor): number {
  let total = 0;
  const src = a.data;
  for (let i = 0; i < src.length; i++) total += src[i]!;
  return total;
}
