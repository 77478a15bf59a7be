/**
 * Products on moge's native kernels (native-kernels.ts) where they beat the libraries:
 * - one-row products (m = 1: a batch-1 decode step's, against every weight matrix) instead of
 *   OpenBLAS's sgemv: such a product only streams its weights, and the native kernels prefetch;
 * - products of a few rows against a weight stored [N, K] (transB: every Linear weight and expert;
 *   a batch-32 decode step's), dense or grouped, instead of OpenBLAS's sgemm (which packs the weight
 *   on every call, per expert) or onnxruntime's pre-packed sessions: the native kernel reads each
 *   weight once and keeps it in registers for every row (native/vector-kernels.c);
 * - products per batch of a few rows each (decode attention over the KV cache, the MoE combine)
 *   instead of a loop of sgemm calls or a WebAssembly kernel that copies its operands.
 * Everything else stays where it was.
 */
import type { MatmulOptions } from '../backend';
import { allF32, allocateOutputF32, CpuTensor } from '../cpu/cpu-tensor';
import { resolveMatmul, type MatmulProblem } from '../cpu/matmul-shapes';
import type { NativeKernels } from '../native/native-kernels';
import { resolveGrouped } from '../reference/matmul';
import { maxSegmentRows, type GemmKernels } from './blas-kernels';
import type { OpenBlas, Sgemm } from './openblas';

/**
 * The most rows (of a dense product, or of any one expert in a grouped one) the native few-row
 * kernel takes. Measured (bench/few-rows.ts, AMD Zen 5, 1 thread, AVX-512 instantiation, weights
 * cold), µs a call, few-row kernel / onnxruntime's pre-packed session / OpenBLAS: 16 experts of
 * 256 × 256 with 8 rows each 200 / 306 / 442, 16 rows each 294 / 517 / 557, 32 each 593 / 720 / 710,
 * 64 each 1194 / 1172 / 1071; dense [32×256]·[512×256]ᵀ 91 / 94 / 101, [64×256]·[512×256]ᵀ 136 / 126
 * / 133. From 64 rows a GEMM library's packing pays for itself.
 */
export const FEW_ROWS_MAX = 32;

/** `blas` with its one-row sgemm calls on `native`. */
export function withNativeOneRowProducts(blas: OpenBlas, native: NativeKernels): OpenBlas {
  const { sgemm } = blas;
  const oneRowFirst: Sgemm = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
    if (m !== 1) return sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    // The row of A is contiguous either way (a [1, K] row, or a [K, 1] column when transposed), and
    // C is one row: op(B) is [K, N], so B stored [N, K] (transB) is read row by row, [K, N] column-wise.
    if (transB) native.gemvRows(n, k, alpha, b, ldb, a, beta, c);
    else native.gemvColumns(k, n, alpha, b, ldb, a, beta, c);
  };
  return { ...blas, sgemm: oneRowFirst };
}

/**
 * The shapes of a product the few-row kernel takes — op(A)·Bᵀ with A's rows (of any leading axes)
 * against one 2-D f32 weight B stored [N, K], 2 to FEW_ROWS_MAX of them — or null for a product it
 * does not take. One row stays with the one-row kernels behind it.
 */
function fewRowsOf(a: CpuTensor, b: CpuTensor, options: MatmulOptions | undefined): (MatmulProblem & { rows: number }) | null {
  if (!options?.transB || options.transA || !allF32(a, b) || a.shape.length < 2 || b.shape.length !== 2) return null;
  const p = resolveMatmul(a.shape, b.shape, options);
  const rows = p.batch * p.m;
  return rows >= 2 && rows <= FEW_ROWS_MAX ? { ...p, rows } : null;
}

/**
 * `inner` with products of a few rows against a [N, K] weight on the native few-row kernel, and
 * grouped products (transB) on the native kernels when no expert got more than FEW_ROWS_MAX rows:
 * experts of at most one row each (a batch-1 decode step's) on the one-row kernel, others on the
 * few-row one. One call covers all experts, so each can prefetch the next active expert's weights
 * while finishing its own (they are not the next in memory: a token runs 4 of 16).
 */
export function withNativeFewRows(inner: GemmKernels, native: NativeKernels): GemmKernels {
  const product = (a: CpuTensor, b: CpuTensor, bias: CpuTensor | null, p: MatmulProblem & { rows: number }): CpuTensor => {
    const out = allocateOutputF32(p.rows * p.n);
    native.fewRowsTimesWt(p.rows, p.n, p.k, b.data as Float32Array, a.data as Float32Array, bias ? (bias.data as Float32Array) : null, out);
    return new CpuTensor(a.backend, 'f32', p.outShape, out);
  };
  return {
    ...inner,
    matmul(a, b, options) {
      const p = fewRowsOf(a, b, options);
      return p ? product(a, b, null, p) : inner.matmul(a, b, options);
    },
    matmulBias(a, b, bias, options) {
      const p = a.shape.length === 2 && allF32(bias) ? fewRowsOf(a, b, options) : null;
      if (!p || bias.size !== b.shape[0]) return inner.matmulBias(a, b, bias, options);
      return product(a, b, bias, p);
    },
    groupedMatmul(x, w, offsets, options) {
      if (!options?.transB || !allF32(x, w) || x.shape.length !== 2 || w.shape.length !== 3) return inner.groupedMatmul(x, w, offsets, options);
      const { t, k, n, groups } = resolveGrouped(x, w, offsets, true);
      const most = maxSegmentRows(offsets);
      if (most > FEW_ROWS_MAX || t === 0) return inner.groupedMatmul(x, w, offsets, options);
      // Every row belongs to exactly one group, so the groups' products cover the output.
      const out = allocateOutputF32(t * n);
      const [wd, xd] = [w.data as Float32Array, x.data as Float32Array];
      if (most === 1) native.gemvRowsGrouped(groups, offsets, n, k, wd, xd, out);
      else native.fewRowsGrouped(groups, offsets, n, k, wd, xd, out);
      return new CpuTensor(x.backend, 'f32', [t, n], out);
    },
  };
}

/**
 * `inner` with products per batch of at most FEW_ROWS_MAX rows each — both operands batched alike,
 * A not transposed — on the native batched kernels: a decode step's attention (a few query rows
 * against each sequence's cached keys, then values) and the MoE combine (each token's expert
 * outputs weighted by its routing scores). A loop of sgemm calls spends ≈ 1.5 µs a call on koffi
 * and packing; onnxruntime's batched MatMul and the WebAssembly kernels copy their operands.
 * It goes in front of those (createOnnxBackend), and takes products of one row too.
 */
export function withNativeBatchedFewRows<K extends Pick<GemmKernels, 'matmul'>>(inner: K, native: NativeKernels): K {
  return {
    ...inner,
    matmul(a, b, options) {
      if (options?.transA || !allF32(a, b) || a.shape.length < 3 || b.shape.length < 3) return inner.matmul(a, b, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      if (!p.aBatched || !p.bBatched || p.m > FEW_ROWS_MAX || p.batch * p.m * p.n === 0) return inner.matmul(a, b, options);
      const out = allocateOutputF32(p.batch * p.m * p.n);
      const [ad, bd] = [a.data as Float32Array, b.data as Float32Array];
      if (p.transB) native.batchedTimesWt(p.batch, p.m, p.n, p.k, bd, ad, out);
      else native.batchedTimesW(p.batch, p.m, p.k, p.n, bd, ad, out);
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },
  };
}
