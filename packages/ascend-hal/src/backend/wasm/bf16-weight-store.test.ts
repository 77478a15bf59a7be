import { Rng } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BF16_MIN_ELEMENTS, bf16WeightStore, holdsBf16Exactly } from './bf16-weight-store';

/** `n` random values in [-1, 1) rounded down to bf16 (low 16 bits cleared): exact bf16 numbers. */
function bf16Values(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  const f = Float32Array.from({ length: n }, () => 2 * rng.float() - 1);
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) bits[i] = bits[i]! & 0xffff0000;
  return f;
}

const store = bf16WeightStore()!;

describe('Bf16WeightStore', () => {
  it('tells bf16 values from f32 ones', () => {
    expect(holdsBf16Exactly(Float32Array.of(0, -0, 1, -2.5, Infinity, 2 ** -130))).toBe(true);
    expect(holdsBf16Exactly(Float32Array.of(1, 0.1))).toBe(false);
  });

  it('copies only matrices of bf16 values, with rows a multiple of 8 long, that are large enough', () => {
    const k = 256;
    const rows = BF16_MIN_ELEMENTS / k;
    const exact = bf16Values(1, rows * k);
    expect(store.adopt(exact, rows, k)).toBe(true);
    expect(store.rowLength(exact)).toBe(k);
    const inexact = exact.slice();
    inexact[77] = 0.1;
    expect(store.adopt(inexact, rows, k)).toBe(false);
    expect(store.adopt(bf16Values(2, (rows - 1) * k), rows - 1, k)).toBe(false);
    expect(store.adopt(bf16Values(3, 2052 * 12), 2052, 12)).toBe(false);
    expect(store.rowLength(inexact)).toBeUndefined();
  });

  it('computes W·x like a float64 product of the same numbers, for any row count and slice of rows', () => {
    const shape = fc.record({ rows: fc.integer({ min: 8, max: 300 }), k8: fc.integer({ min: 1, max: 80 }), seed: fc.integer({ min: 1, max: 1 << 30 }) });
    fc.assert(
      fc.property(shape, fc.nat(), fc.nat(), ({ rows, k8, seed }, a, b) => {
        const k = k8 * 8;
        const padded = Math.max(rows, Math.ceil(BF16_MIN_ELEMENTS / k));
        const w = bf16Values(seed, padded * k);
        expect(store.adopt(w, padded, k)).toBe(true);
        const x = bf16Values(seed + 1, k + 3);
        const first = a % rows;
        const count = 1 + (b % (rows - first));
        const out = new Float32Array(count + 2);
        store.gemv(w, first, count, x, 3, out, 2);
        for (let r = 0; r < count; r++) {
          let exact = 0;
          let scale = 0;
          for (let j = 0; j < k; j++) {
            const p = w[(first + r) * k + j]! * x[3 + j]!;
            exact += p;
            scale += Math.abs(p);
          }
          // f32 sums of k products: a few ulps of the sum of magnitudes.
          expect(Math.abs(out[2 + r]! - exact)).toBeLessThanOrEqual(1e-6 * scale + 1e-30);
        }
      }),
      { numRuns: 60 },
    );
  });
});
