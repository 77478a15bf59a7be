import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { offsetsOf } from '../conformance/case-builder';
import { nativeKernelsStatus } from '../onnxruntime/onnx-backend';
import { loadNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverNativeKernels, describeOverVectorIsas, expectCloseArrays, expectGroupedLikeJs, jsNativeKernels, sinValues, viewAt } from './native-kernels.test-support';

// Sums of up to ~70 products of values in [-1, 1], in another order (and fused on AVX2/AVX-512): within
// expectCloseArrays' 1e-5.
// Rows past a 4-row tile, n past a 4-row block of W, k past 16 lanes: every remainder path runs.
const problem = fc.record({
  rows: fc.integer({ min: 1, max: 13 }),
  n: fc.integer({ min: 1, max: 21 }),
  k: fc.integer({ min: 1, max: 70 }),
  withBias: fc.boolean(),
  offset: fc.nat(3),
  salt: fc.nat(100),
});

function contract(kernels: NativeKernels): void {
  it('fewRowsTimesWt: Y = X·Wᵀ (+ bias) for any shapes, with or without bias, on views (property)', () => {
    fc.assert(
      fc.property(problem, ({ rows, n, k, withBias, offset, salt }) => {
        const w = viewAt(sinValues(n * k, salt), offset);
        const x = viewAt(sinValues(rows * k, salt + 1), offset + 1);
        const bias = withBias ? viewAt(sinValues(n, salt + 2), offset + 2) : null;
        const want = new Float32Array(rows * n);
        jsNativeKernels.fewRowsTimesWt(rows, n, k, w, x, bias, want);
        // Y is written, never read: NaN there must not leak into the result.
        const got = viewAt(new Float32Array(rows * n).fill(Number.NaN), offset);
        kernels.fewRowsTimesWt(rows, n, k, w, x, bias, got);
        expectCloseArrays(got, want);
      }),
      { numRuns: 300 },
    );
  });

  it('fewRowsGrouped: each group\'s rows times its W_gᵀ, whatever groups are empty (property)', () => {
    const sizes = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(sizes, fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 40 }), fc.nat(100), (counts, n, k, salt) =>
        expectGroupedLikeJs(kernels, 'fewRowsGrouped', offsetsOf(counts), n, k, salt, true),
      ),
      { numRuns: 300 },
    );
  });

  it('fewRowsGrouped at decode size: 32 tokens over 16 experts of 256 × 256, prefetching across experts', () => {
    expectGroupedLikeJs(kernels, 'fewRowsGrouped', offsetsOf([9, 0, 7, 16, 8, 8, 0, 16, 5, 11, 3, 13, 4, 12, 0, 16]), 256, 256, 9, false);
  });

  const batched = fc.record({
    batch: fc.integer({ min: 1, max: 5 }),
    rows: fc.integer({ min: 1, max: 9 }),
    n: fc.integer({ min: 1, max: 70 }),
    k: fc.integer({ min: 1, max: 40 }),
    salt: fc.nat(100),
  });
  for (const kernel of ['batchedTimesWt', 'batchedTimesW'] as const) {
    const law = kernel === 'batchedTimesWt' ? 'Y_b = X_b·W_bᵀ' : 'Y_b = X_b·W_b';
    it(`${kernel}: ${law} per batch, for any shapes (column blocks, single vectors and scalar columns) (property)`, () => {
      fc.assert(
        fc.property(batched, ({ batch, rows, n, k, salt }) => {
          const w = viewAt(sinValues(batch * n * k, salt), 1);
          const x = viewAt(sinValues(batch * rows * k, salt + 1), 2);
          const want = new Float32Array(batch * rows * n);
          const got = viewAt(new Float32Array(batch * rows * n).fill(Number.NaN), 3);
          if (kernel === 'batchedTimesWt') {
            jsNativeKernels.batchedTimesWt(batch, rows, n, k, w, x, want);
            kernels.batchedTimesWt(batch, rows, n, k, w, x, got);
          } else {
            jsNativeKernels.batchedTimesW(batch, rows, k, n, w, x, want);
            kernels.batchedTimesW(batch, rows, k, n, w, x, got);
          }
          expectCloseArrays(got, want);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('carries NaN and infinities like the reference sums', () => {
    const [rows, n, k] = [5, 8, 33];
    const x = sinValues(rows * k, 4);
    const w = sinValues(n * k, 5);
    x[2 * k + 7] = Number.NaN;
    w[3 * k + 32] = Number.POSITIVE_INFINITY;
    const [want, got] = [new Float32Array(rows * n), new Float32Array(rows * n)];
    jsNativeKernels.fewRowsTimesWt(rows, n, k, w, x, null, want);
    kernels.fewRowsTimesWt(rows, n, k, w, x, null, got);
    for (let i = 0; i < want.length; i++) {
      if (Number.isFinite(want[i]!)) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
      else expect(got[i]).toBe(want[i]);
    }
  });
}

const loaded = loadNativeKernels();

describeOverVectorIsas(loaded, 'few-row products', contract);

describeOverNativeKernels(loaded, 'vector instantiation choice', (kernels) => {
  afterAll(() => void kernels.selectVectorIsa(''));
  it('picks the best the CPU has, refuses names it does not know', () => {
    expect(kernels.selectVectorIsa('')).toBe(true);
    const best = kernels.vectorIsa();
    expect(['avx512', 'avx2', 'baseline']).toContain(best);
    expect(kernels.selectVectorIsa('nonsense' as 'avx2')).toBe(false);
    expect(kernels.vectorIsa()).toBe(best);
  });

  it('nativeKernelsStatus() names the instantiation in use', () => {
    expect(nativeKernelsStatus()).toEqual({ loaded: true, path: kernels.library, vectorIsa: kernels.vectorIsa() });
  });
});
