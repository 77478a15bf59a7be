/**
 * The FLOP-carrying kernels on OpenBLAS's sgemm (openblas.ts): matmul (2-D, and batched rows
 * against one matrix), matmulBias, and the grouped matmul and its weight gradient as one sgemm per
 * non-empty expert on views of the expert-sorted rows — no split, no concatenation, no copy of anything. Degenerate and
 * tiny problems, non-f32 operands and malformed shapes go to `fallback` (onnxruntime's kernels, which
 * answer zeros, run tiny products in JS and produce the shape errors). Constant (frozen) weights are
 * read in place for products of a row or two; beyond that onnxruntime's pre-packed sessions win.
 */
import type { MatmulOptions } from '../backend';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allocateOutputF32, CpuTensor } from '../cpu/cpu-tensor';
import { resolveMatmul } from '../cpu/matmul-shapes';
import { resolveGrouped, resolveGroupedWeightGrad } from '../reference/matmul';
import type { OpenBlas } from './openblas';

export type GemmKernels = Required<Pick<CpuKernelOverrides, 'matmul' | 'matmulBias' | 'groupedMatmul' | 'groupedMatmulWeightGrad'>>;

const isF32 = (...ts: CpuTensor[]) => ts.every((t) => t.data instanceof Float32Array);
const f32 = (t: CpuTensor) => t.data as Float32Array;

/**
 * With OpenBLAS, products of at most this many multiply-adds run in JS: a call through koffi costs
 * ≈ 1.5 µs, so sgemm wins from ≈ 8³ = 512 (1.6 vs 3.8 µs) and loses at 4³ = 64 (3.2 vs 1.1 µs);
 * a [1×4]·[4×256] product took 2.8 µs against 6.8 in JS.
 */
export const BLAS_SMALL_MATMUL_MACS = 128;

/**
 * A constant (frozen) weight goes to OpenBLAS only for products of at most this many rows: there
 * OpenBLAS runs a matrix-vector kernel (≈ 8 µs for 1–2 rows × 256 × 512 against 15 µs for
 * onnxruntime's pre-packed session); from 4 rows on it packs the weight on every call (49 µs) while
 * the session packed it once (26 µs). Measured with 16 experts of 256 × 256: OpenBLAS wins up to 4
 * rows per expert (215 vs 312 µs), the session from 8 (320 vs 462 µs).
 */
export const CONSTANT_GEMV_MAX_ROWS = 2;
export const CONSTANT_GROUPED_MAX_ROWS = 4;

/**
 * Whether a product per batch goes to one sgemm per batch: only for a few small ones (a decode
 * step's attention over 1–2 sequences), where onnxruntime's ≈ 20 µs a run dominates. Many batches,
 * or big ones, run faster in onnxruntime's batched MatMul: measured 1–2.8× at the model's training
 * attention (8 × [512×64]·[64×512]: 2.7 ms against 5.0) and MoE-combine shapes (1024 × [1×4]·[4×256]).
 */
const loopsWell = (batch: number, macsPerBatch: number) => batch <= 4 && macsPerBatch <= 1 << 20;

function maxSegmentRows(offsets: Int32Array): number {
  let max = 0;
  for (let g = 0; g + 1 < offsets.length; g++) max = Math.max(max, offsets[g + 1]! - offsets[g]!);
  return max;
}

/**
 * `small`: products of at most this many multiply-adds stay with the fallback (its JS loop), as on
 * the onnxruntime path.
 */
export function blasKernels(blas: OpenBlas, fallback: GemmKernels, small: number): GemmKernels {
  const { sgemm } = blas;
  return {
    matmul(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor {
      if (!isF32(a, b) || a.shape.length < 2 || b.shape.length < 2) return fallback.matmul(a, b, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      const macs = p.batch * p.m * p.n * p.k;
      const perBatch = p.bBatched || (p.aBatched && p.transA);
      if (macs <= small || (perBatch && !loopsWell(p.batch, p.m * p.n * p.k)) || (b.constant && p.m > CONSTANT_GEMV_MAX_ROWS)) {
        return fallback.matmul(a, b, options);
      }
      const [ad, bd] = [f32(a), f32(b)];
      const out = allocateOutputF32(p.batch * p.m * p.n);
      // Stored row lengths: A is [M, K] (or [K, M] transposed), B is [K, N] (or [N, K]).
      const lda = p.transA ? p.m : p.k;
      const ldb = p.transB ? p.k : p.n;
      if (!perBatch) {
        // Rows of a batched A against one B are a single tall product: [B·M, K]·op(B).
        sgemm(p.transA, p.transB, p.batch * p.m, p.n, p.k, 1, ad, lda, bd, ldb, 0, out, p.n);
      } else {
        for (let s = 0; s < p.batch; s++) {
          const aView = p.aBatched ? ad.subarray(s * p.m * p.k, (s + 1) * p.m * p.k) : ad;
          const bView = p.bBatched ? bd.subarray(s * p.k * p.n, (s + 1) * p.k * p.n) : bd;
          sgemm(p.transA, p.transB, p.m, p.n, p.k, 1, aView, lda, bView, ldb, 0, out.subarray(s * p.m * p.n, (s + 1) * p.m * p.n), p.n);
        }
      }
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },

    matmulBias(a: CpuTensor, b: CpuTensor, bias: CpuTensor, options?: MatmulOptions): CpuTensor {
      if (!isF32(a, b, bias) || a.shape.length !== 2 || b.shape.length !== 2) return fallback.matmulBias(a, b, bias, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      if (bias.size !== p.n || p.m * p.n * p.k <= small || (b.constant && p.m > CONSTANT_GEMV_MAX_ROWS)) return fallback.matmulBias(a, b, bias, options);
      const out = allocateOutputF32(p.m * p.n);
      // C starts as the bias in every row (doubling copies), then sgemm adds op(A)·op(B) (beta = 1).
      const bd = f32(bias);
      out.set(bd, 0);
      for (let filled = 1; filled < p.m; filled *= 2) out.copyWithin(filled * p.n, 0, Math.min(filled, p.m - filled) * p.n);
      sgemm(p.transA, p.transB, p.m, p.n, p.k, 1, f32(a), p.transA ? p.m : p.k, f32(b), p.transB ? p.k : p.n, 1, out, p.n);
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },

    groupedMatmul(x: CpuTensor, w: CpuTensor, offsets: Int32Array, options?: { transB?: boolean }): CpuTensor {
      const transB = options?.transB ?? false;
      if (!isF32(x, w) || x.shape.length !== 2 || w.shape.length !== 3) return fallback.groupedMatmul(x, w, offsets, options);
      const { t, k, n, groups } = resolveGrouped(x, w, offsets, transB);
      if (t * k * n <= small || (w.constant && maxSegmentRows(offsets) > CONSTANT_GROUPED_MAX_ROWS)) return fallback.groupedMatmul(x, w, offsets, options);
      const [xd, wd] = [f32(x), f32(w)];
      // Every row belongs to exactly one segment, so the segments' products cover the output.
      const out = allocateOutputF32(t * n);
      for (let g = 0; g < groups; g++) {
        const [start, end] = [offsets[g]!, offsets[g + 1]!];
        if (end === start) continue;
        const rows = end - start;
        sgemm(false, transB, rows, n, k, 1, xd.subarray(start * k, end * k), k, wd.subarray(g * k * n, (g + 1) * k * n), transB ? k : n, 0, out.subarray(start * n, end * n), n);
      }
      return new CpuTensor(x.backend, 'f32', [t, n], out);
    },

    groupedMatmulWeightGrad(x: CpuTensor, dy: CpuTensor, offsets: Int32Array): CpuTensor {
      if (!isF32(x, dy) || x.shape.length !== 2 || dy.shape.length !== 2) return fallback.groupedMatmulWeightGrad(x, dy, offsets);
      const { t, k, n, groups } = resolveGroupedWeightGrad(x, dy, offsets);
      if (t * k * n <= small) return fallback.groupedMatmulWeightGrad(x, dy, offsets);
      const [xd, dyd] = [f32(x), f32(dy)];
      const out = allocateOutputF32(groups * k * n);
      for (let g = 0; g < groups; g++) {
        const [start, end] = [offsets[g]!, offsets[g + 1]!];
        const block = out.subarray(g * k * n, (g + 1) * k * n);
        // An expert that got no tokens has a zero gradient (the output is not zeroed beforehand).
        if (end === start) block.fill(0);
        else sgemm(true, false, k, n, end - start, 1, xd.subarray(start * k, end * k), k, dyd.subarray(start * n, end * n), n, 0, block, n);
      }
      return new CpuTensor(x.backend, 'f32', [groups, k, n], out);
    },
  };
}
