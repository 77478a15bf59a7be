import { it } from 'vitest';
import { jsVectorMath } from '../host/vector-math';
import type { OpenBlas, OpenBlasLoad, Sgemm } from './openblas';

/**
 * Suites that run over the system OpenBLAS where it loads call this beside their `describe.each`, so
 * a machine without it reports a skipped test with the reason instead of silently fewer rows.
 */
export function reportOpenBlasSkipped(loaded: OpenBlasLoad, what: string): void {
  if (!loaded.ok) it.skip(`${what} on the system OpenBLAS: not loaded (${loaded.reason})`, () => undefined);
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
