/**
 * Sums over a leading axis (every axis but the last) as one OpenBLAS matrix–vector product per outer
 * block: 1ᵀ·A over a [len, inner] block is a column sum. The bias gradients of a training step are
 * such sums ([1024 × 256] → [256]): the reference's float64 JS loop took ≈ 0.5 ms each, about 9 ms of
 * a moge-small step, where sgemv streams the block at memory speed. Sums accumulate in f32, as
 * PyTorch's do. Sums over the last axis (one running sum per row) stay with the reference.
 */
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allocateOutputF32, CpuTensor, normalizeAxis } from '../cpu/cpu-tensor';
import { sum as referenceSum } from '../reference/reductions';
import type { OpenBlas } from './openblas';

/** Blocks below this many elements stay in JS: a call through koffi costs ≈ 1.5 µs. */
export const BLAS_SUM_MIN_ELEMENTS = 4096;

export function blasSum(blas: OpenBlas): Required<Pick<CpuKernelOverrides, 'sum'>> {
  let ones = new Float32Array(0);
  return {
    sum(a: CpuTensor, axis: number): CpuTensor {
      if (a.dtype !== 'f32' || a.shape.length < 2) return referenceSum(a, axis);
      const ax = normalizeAxis(axis, a.shape.length, 'sum');
      const len = a.shape[ax]!;
      const inner = a.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
      const outer = a.size / Math.max(1, len * inner);
      if (inner === 1 || len === 0 || len * inner < BLAS_SUM_MIN_ELEMENTS) return referenceSum(a, axis);
      if (ones.length < len) ones = new Float32Array(len).fill(1);
      const data = a.data as Float32Array;
      const out = allocateOutputF32(outer * inner);
      const block = len * inner;
      for (let o = 0; o < outer; o++) {
        // [1, len]·[len, inner]: OpenBLAS runs a one-row product as sgemv (openblas.ts).
        blas.sgemm(false, false, 1, inner, len, 1, ones, len, data.subarray(o * block, (o + 1) * block), inner, 0, out.subarray(o * inner, (o + 1) * inner), inner);
      }
      return new CpuTensor(a.backend, 'f32', [...a.shape.slice(0, ax), ...a.shape.slice(ax + 1)], out);
    },
  };
}
