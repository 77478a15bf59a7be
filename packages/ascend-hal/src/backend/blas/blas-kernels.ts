/**
 * The FLOP-carrying kernels on OpenBLAS's sgemm (openblas.ts): matmul (2-D, and batched rows
 * against one matrix), matmulBias, and the grouped matmul and its weight gradient as one sgemm per
 * non-empty expert on views of the expert-sorted rows — no split, no concatenation, no copy of anything. Degenerate and
 * tiny problems, non-f32 operands and malformed shapes go to `fallback` (onnxruntime's kernels, which
 * answer zeros, run tiny products in JS and produce the shape errors), as do the products that
 * BlasRouting gives onnxruntime for OpenBLAS's kernel family (pre-packed constant weights beyond a few
 * rows, batched products) where onnxruntime measured faster.
 */
import type { MatmulOptions } from '../backend';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor, repeatRow } from '../cpu/cpu-tensor';
import { resolveMatmul } from '../cpu/matmul-shapes';
import { resolveGrouped, resolveGroupedWeightGrad } from '../reference/matmul';
import type { OpenBlas } from './openblas';

export type GemmKernels = Required<Pick<CpuKernelOverrides, 'matmul' | 'matmulBias' | 'groupedMatmul' | 'groupedMatmulWeightGrad'>>;

const f32 = (t: CpuTensor) => t.data as Float32Array;

/**
 * With OpenBLAS, products of at most this many multiply-adds run in JS: a call through koffi costs
 * ≈ 1.5 µs, so sgemm wins from ≈ 8³ = 512 (1.6 vs 3.8 µs) and loses at 4³ = 64 (3.2 vs 1.1 µs);
 * a [1×4]·[4×256] product took 2.8 µs against 6.8 in JS.
 */
export const BLAS_SMALL_MATMUL_MACS = 128;

/**
 * Which products OpenBLAS takes from onnxruntime, by the kernel family OpenBLAS runs (its
 * `coreName`). Measured on one host (AMD Zen 5, 1 thread) with each family, in the model
 * (`packages/model/bench/op-profile.ts`, whose weights come cold from memory) and alone
 * (`bench/blas-routing.ts`, warm caches):
 *
 * - Constant (frozen) weights, every family: OpenBLAS only for products of at most 2 rows (a
 *   matrix-vector kernel, ≈ 8 µs for 1–2 rows × 256 × 512 against 15 µs for onnxruntime's pre-packed
 *   session) or 4 rows per expert (16 experts of 256 × 256: 215 vs 312 µs on Haswell). Beyond that
 *   OpenBLAS packs the weight on every call while the session packed it once; even the AVX-512
 *   small-matrix kernels, as fast as the session on warm weights (16 × [8×256]·[256×256]: 118–164 µs
 *   against 139–155), lost in a batch-32 decode step, where the weights stream from memory (486
 *   against 371 µs a call).
 * - Products per batch (attention), `Haswell` (AVX2; what an `OPENBLAS_CORETYPE=Haswell` pin gives,
 *   and the fallback for families not listed): a loop of sgemm calls only for a few small batches (a
 *   decode step's attention over 1–2 sequences); many batches, or big ones, ran 1–2.8× faster in
 *   onnxruntime's batched MatMul.
 * - Products per batch, AVX-512 families (`SkylakeX`, `Cooperlake`, `SapphireRapids`, ≈ 1.8× the
 *   Haswell kernels' speed): the loop wins from 16 × [64×64]·[64×64] (57 against 90–98 µs) to the
 *   training attention's 8 × [512×64]·[64×512] (1.7 against 12.6 ms: onnxruntime's fresh 8 MB
 *   output costs page faults that the loop's pooled output does not). It stays bounded at 64 batches
 *   of small products, where a call's ≈ 1.5 µs adds up (the MoE combine's 1024 × [1×4]·[4×256]).
 *   Training step, moge-small 4×256 on Cooperlake: 525–570 ms against 552–705 with Haswell's limits.
 */
export interface BlasRouting {
  /** A constant weight's product goes to OpenBLAS for at most this many rows. */
  constantMaxRows: number;
  /** A constant stacked expert weight's grouped product goes to OpenBLAS for at most this many rows per expert. */
  constantGroupedMaxRows: number;
  /** Products per batch loop over sgemm when there are at most this many batches … */
  loopMaxBatches: number;
  /** … of at most this many multiply-adds each; */
  loopMaxMacsPerBatch: number;
  /** or, whatever the batch count, when each batch has at least this many. */
  loopAnyBatchMacs: number;
}

export const HASWELL_ROUTING: BlasRouting = {
  constantMaxRows: 2,
  constantGroupedMaxRows: 4,
  loopMaxBatches: 4,
  loopMaxMacsPerBatch: 1 << 20,
  loopAnyBatchMacs: Infinity,
};

export const AVX512_ROUTING: BlasRouting = {
  ...HASWELL_ROUTING,
  loopMaxBatches: 64,
  loopMaxMacsPerBatch: Infinity,
  loopAnyBatchMacs: 1 << 16,
};

const AVX512_CORES = new Set(['skylakex', 'cooperlake', 'sapphirerapids']);

/** The routing for OpenBLAS's kernel family `coreName` (case-insensitive; families not listed get Haswell's). */
export function blasRoutingFor(coreName: string): BlasRouting {
  return AVX512_CORES.has(coreName.toLowerCase()) ? AVX512_ROUTING : HASWELL_ROUTING;
}

/** Whether a product per batch goes to one sgemm per batch under `r`. */
function loopsWell(r: BlasRouting, batch: number, macsPerBatch: number): boolean {
  if (macsPerBatch >= r.loopAnyBatchMacs) return true;
  return batch <= r.loopMaxBatches && macsPerBatch <= r.loopMaxMacsPerBatch;
}

/** The most rows any one group (expert) of a grouped product got. */
export function maxSegmentRows(offsets: Int32Array): number {
  let max = 0;
  for (let g = 0; g + 1 < offsets.length; g++) max = Math.max(max, offsets[g + 1]! - offsets[g]!);
  return max;
}

/**
 * `small`: products of at most this many multiply-adds stay with the fallback (its JS loop), as on
 * the onnxruntime path.
 */
export function blasKernels(blas: OpenBlas, fallback: GemmKernels, small: number, routing: BlasRouting = blasRoutingFor(blas.coreName)): GemmKernels {
  const { sgemm } = blas;
  return {
    matmul(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor {
      if (!allF32(a, b) || a.shape.length < 2 || b.shape.length < 2) return fallback.matmul(a, b, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      const macs = p.batch * p.m * p.n * p.k;
      const perBatch = p.bBatched || (p.aBatched && p.transA);
      if (macs <= small || (perBatch && !loopsWell(routing, p.batch, p.m * p.n * p.k)) || (b.constant && p.m > routing.constantMaxRows)) {
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
      if (!allF32(a, b, bias) || a.shape.length !== 2 || b.shape.length !== 2) return fallback.matmulBias(a, b, bias, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      if (bias.size !== p.n || p.m * p.n * p.k <= small || (b.constant && p.m > routing.constantMaxRows)) return fallback.matmulBias(a, b, bias, options);
      const out = allocateOutputF32(p.m * p.n);
      // C starts as the bias in every row (doubling copies), then sgemm adds op(A)·op(B) (beta = 1).
      const bd = f32(bias);
      out.set(bd, 0);
      repeatRow(out, p.n, 0, p.m);
      sgemm(p.transA, p.transB, p.m, p.n, p.k, 1, f32(a), p.transA ? p.m : p.k, f32(b), p.transB ? p.k : p.n, 1, out, p.n);
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },

    groupedMatmul(x: CpuTensor, w: CpuTensor, offsets: Int32Array, options?: { transB?: boolean }): CpuTensor {
      const transB = options?.transB ?? false;
      if (!allF32(x, w) || x.shape.length !== 2 || w.shape.length !== 3) return fallback.groupedMatmul(x, w, offsets, options);
      const { t, k, n, groups } = resolveGrouped(x, w, offsets, transB);
      if (t * k * n <= small || (w.constant && maxSegmentRows(offsets) > routing.constantGroupedMaxRows)) return fallback.groupedMatmul(x, w, offsets, options);
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
      if (!allF32(x, dy) || x.shape.length !== 2 || dy.shape.length !== 2) return fallback.groupedMatmulWeightGrad(x, dy, offsets);
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
