import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../cpu/cpu-backend';
import { blasSum, BLAS_SUM_MIN_ELEMENTS } from './blas-sum';
import { describeOverOpenBlas, jsBlas } from './js-blas.test-support';
import { loadOpenBlas, type OpenBlas } from './openblas';

const loaded = loadOpenBlas();

/** blasSum over `blas`, against the reference backend's sum. */
function sumSuite(blas: OpenBlas): void {
  let calls = 0;
  const counting: OpenBlas = { ...blas, sgemm: (...args) => (calls++, blas.sgemm(...args)) };
  const be = createCpuBackend('b', blasSum(counting));
  const oracle = createCpuBackend('b');

  it('equals the reference sum on any shape and axis within f32 summation error (n·2⁻²³·Σ|a|)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 2, maxLength: 3 }), fc.nat(), fc.integer(), (shape, axisPick, seed) => {
        const axis = axisPick % shape.length;
        const data = Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => Math.sin(seed + i * 0.37) * 10);
        calls = 0;
        const got = be.read(be.sum(be.fromArray(data, shape), axis));
        const want = oracle.read(oracle.sum(oracle.fromArray(data, shape), axis));
        const absSums = oracle.read(oracle.sum(oracle.fromArray(data.map(Math.abs), shape), axis));
        expect(got.length).toBe(want.length);
        // A sum of n f32 terms accumulated in f32 is within γ_n·Σ|a| ≈ n·2⁻²³·Σ|a| of the exact one
        // (the reference's float64 sum rounded once); plus one rounding of the result.
        const bound = (i: number) => (shape[axis]! + 1) * 2 ** -23 * absSums[i]!;
        for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!), `element ${i}`).toBeLessThanOrEqual(bound(i));
        const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
        expect(calls > 0).toBe(inner > 1 && shape[axis]! * inner >= BLAS_SUM_MIN_ELEMENTS);
      }),
      { numRuns: 150 },
    );
  });

  it('leaves integer tensors and bad axes to the reference', () => {
    const ints = Int32Array.from({ length: 8192 }, (_, i) => i % 3);
    calls = 0;
    expect(Array.from(be.read(be.sum(be.fromArray(ints, [4096, 2]), 0)))).toEqual(Array.from(oracle.read(oracle.sum(oracle.fromArray(ints, [4096, 2]), 0))));
    expect(calls).toBe(0);
    expect(() => be.sum(be.fromArray(new Float32Array(8192), [64, 128]), 2)).toThrow(/axis 2 out of range/);
  });
}

// The kernel's own logic (blocks, views, what stays with the reference) runs on every machine against
// a JS sgemm; the system OpenBLAS joins where it loads.
describe('sums over a leading axis on a JS sgemm (every machine)', () => sumSuite(jsBlas));
describeOverOpenBlas(loaded, 'sums over a leading axis', sumSuite);

