import { describe } from 'vitest';
import { jsVectorMath } from '../host/vector-math';
import type { OpenBlas, OpenBlasLoad, Sgemm } from './openblas';

/**
 * `suite`'s tests over the system OpenBLAS: run where it loads, and where it does not, collected and
 * reported as skipped under a title naming the reason (rather than silently absent). The JS sgemm
 * only stands in for collection there; no test runs on it.
 */
export function describeOverOpenBlas(loaded: OpenBlasLoad, title: string, suite: (blas: OpenBlas) => void): void {
  describe.skipIf(!loaded.ok)(`${title} on the system OpenBLAS${loaded.ok ? '' : ` (not loaded: ${loaded.reason})`}`, () => suite(loaded.ok ? loaded.blas : jsBlas));
}

/**
 * Row-major sgemm with BLAS's contract (strides, transposes, α, β; β = 0 never reads C), in JS: the
 * kernels' own logic — views, offsets, the bias fill, empty experts, what goes to the fallback — runs
 * against it on every machine, OpenBLAS or not.
 */
export const jsSgemm: Sgemm = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += (transA ? a[p * lda + i]! : a[i * lda + p]!) * (transB ? b[j * ldb + p]! : b[p * ldb + j]!);
      c[i * ldc + j] = alpha * acc + (beta === 0 ? 0 : beta * c[i * ldc + j]!);
    }
  }
};
export const jsBlas: OpenBlas = {
  sgemm: jsSgemm,
  saxpy: (n, alpha, x, y) => jsVectorMath.axpy(y.subarray(0, n), x.subarray(0, n), alpha),
  sscal: (n, alpha, x) => jsVectorMath.scale(x.subarray(0, n), alpha),
  sdot: (n, x, y) => x.subarray(0, n).reduce((s, v, i) => s + v * y[i]!, 0),
  library: 'js',
  setThreads: () => undefined,
  coreName: 'js',
};
