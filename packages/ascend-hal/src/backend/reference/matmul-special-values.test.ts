import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from './reference-backend';

// The reference matmuls against a plain triple loop that adds every term in float64 (IEEE: 0 · ∞
// and 0 · NaN are NaN), on operands mixing zeros with NaN, ±∞ and huge values: what sgemm and
// PyTorch give, and what the onnxruntime backend's native kernels give.
const be = createReferenceBackend();

/** Values where a skipped or reordered term shows: signed zeros next to the non-finite ones. */
const edgeValue = fc.constantFrom(0, -0, 0, 1, -2.5, Number.NaN, Infinity, -Infinity, 3e38, -3e38, 1e-45);

/** Σ_p A[i, p] · B[p, j] in float64, rounded once, for row-major A [m, k] and B [k, n]. */
function naiveProduct(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Exact agreement, NaN matching NaN (Object.is would also tell −0 from +0, which float sums need not keep). */
function sameValues(got: ArrayLike<number>, want: ArrayLike<number>): boolean {
  if (got.length !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i]!, want[i]!];
    if (!(g === w || (Number.isNaN(g) && Number.isNaN(w)))) return false;
  }
  return true;
}

const problem = fc
  .record({ m: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 5 }), n: fc.integer({ min: 1, max: 4 }) })
  .chain(({ m, k, n }) =>
    fc.record({
      m: fc.constant(m),
      k: fc.constant(k),
      n: fc.constant(n),
      a: fc.array(edgeValue, { minLength: m * k, maxLength: m * k }).map((v) => Float32Array.from(v)),
      b: fc.array(edgeValue, { minLength: k * n, maxLength: k * n }).map((v) => Float32Array.from(v)),
    }),
  );

describe('reference matmuls propagate NaN and ∞ as IEEE arithmetic does', () => {
  it('a zero of A times a NaN or ∞ of B is NaN, not a skipped term', () => {
    const a = be.fromArray([0, 1], [1, 2]);
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const b = be.fromArray([bad, 2], [2, 1]);
      expect(Number.isNaN(be.read(be.matmul(a, b))[0]!), `0 · ${bad} + 1 · 2`).toBe(true);
    }
  });

  it('matmul, with every transpose, equals the plain triple loop (property)', () => {
    fc.assert(
      fc.property(problem, fc.boolean(), fc.boolean(), ({ m, k, n, a, b }, transA, transB) => {
        const want = naiveProduct(a, b, m, k, n);
        // Store the operands transposed where asked, so op(A)·op(B) is the same product.
        const stored = (x: Float32Array, rows: number, cols: number, t: boolean) =>
          t ? be.fromArray(Float32Array.from({ length: rows * cols }, (_, i) => x[(i % rows) * cols + Math.floor(i / rows)]!), [cols, rows]) : be.fromArray(x.slice(), [rows, cols]);
        const got = be.read(be.matmul(stored(a, m, k, transA), stored(b, k, n, transB), { transA, transB }));
        return sameValues(got, want);
      }),
      { numRuns: 300 },
    );
  });

  it('groupedMatmul and its weight gradient equal the plain triple loop per expert (property)', () => {
    fc.assert(
      fc.property(problem, ({ m, k, n, a, b }) => {
        // One empty expert before and after the one that gets all m rows.
        const offsets = Int32Array.from([0, 0, m, m]);
        const w = new Float32Array(3 * k * n);
        w.set(b, k * n);
        const y = be.read(be.groupedMatmul(be.fromArray(a.slice(), [m, k]), be.fromArray(w, [3, k, n]), offsets));
        // dW = xᵀ · dy with dy = B's values seen as [m, n] when the sizes allow: reuse the edge values.
        const dy = Float32Array.from({ length: m * n }, (_, i) => b[i % b.length]!);
        const xT = Float32Array.from({ length: k * m }, (_, i) => a[(i % m) * k + Math.floor(i / m)]!);
        const dW = be.read(be.groupedMatmulWeightGrad(be.fromArray(a.slice(), [m, k]), be.fromArray(dy, [m, n]), offsets));
        const zeros = new Float32Array(k * n);
        return sameValues(y, naiveProduct(a, b, m, k, n)) && sameValues(dW, [...zeros, ...naiveProduct(xT, dy, k, m, n), ...zeros]);
      }),
      { numRuns: 300 },
    );
  });
});
