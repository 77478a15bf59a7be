/**
 * One-row products (m = 1: a batch-1 decode step's, against every weight matrix) on moge's native
 * prefetching kernels instead of OpenBLAS's sgemv; everything else stays on OpenBLAS. Why: such a
 * product only streams its weights, and the native kernels stream them faster (native-kernels.ts).
 */
import { allF32, allocateOutputF32, CpuTensor } from '../cpu/cpu-tensor';
import type { NativeKernels } from '../native/native-kernels';
import { resolveGrouped } from '../reference/matmul';
import type { GemmKernels } from './blas-kernels';
import type { OpenBlas, Sgemm } from './openblas';

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
 * `inner` with grouped matmuls whose experts each got at most one row (a batch-1 decode step's) as
 * one native call over all experts: it saves a call per expert and, unlike a call per expert, can
 * prefetch the next active expert's weights while finishing the current one's (they are not the next
 * in memory: a token runs 4 of 16). Everything else goes to `inner`.
 */
export function withNativeGroupedRows(inner: GemmKernels, native: NativeKernels): GemmKernels {
  return {
    ...inner,
    groupedMatmul(x, w, offsets, options) {
      if (!options?.transB || !allF32(x, w) || x.shape.length !== 2 || w.shape.length !== 3) return inner.groupedMatmul(x, w, offsets, options);
      const { t, k, n, groups } = resolveGrouped(x, w, offsets, true);
      for (let g = 0; g < groups; g++) if (offsets[g + 1]! - offsets[g]! > 1) return inner.groupedMatmul(x, w, offsets, options);
      // Every row belongs to exactly one group, so the groups' products cover the output.
      const out = allocateOutputF32(t * n);
      native.gemvRowsGrouped(groups, offsets, n, k, w.data as Float32Array, x.data as Float32Array, out);
      return new CpuTensor(x.backend, 'f32', [t, n], out);
    },
  };
}
