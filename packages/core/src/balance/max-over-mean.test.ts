import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxOverMean } from './max-over-mean';

describe('maxOverMean', () => {
  it('is the busiest load over the mean load', () => {
    expect(maxOverMean([4, 2, 0, 2])).toBe(2);
    expect(maxOverMean([3])).toBe(1);
    expect(maxOverMean(Float64Array.from([1, 3]))).toBe(1.5);
  });

  it('is 1 when every load is 0: an idle layer is perfectly balanced', () => {
    expect(maxOverMean([0, 0])).toBe(1);
    expect(maxOverMean(new Float64Array(64))).toBe(1);
    expect(maxOverMean([0])).toBe(1);
  });

  it('lies in [1, n], is 1 exactly when all loads are equal, and ignores the loads’ scale', () => {
    const loads = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 32 });
    fc.assert(
      fc.property(loads, fc.integer({ min: 1, max: 1000 }), (l, scale) => {
        const r = maxOverMean(l);
        expect(r).toBeGreaterThanOrEqual(1);
        expect(r).toBeLessThanOrEqual(l.length * (1 + 1e-12));
        expect(r === 1).toBe(l.every((x) => x === l[0]));
        expect(maxOverMean(l.map((x) => x * scale))).toBeCloseTo(r, 12);
      }),
      { numRuns: 300, seed: 20261202 },
    );
  });

  it('refuses loads with no defined ratio, naming the load', () => {
    expect(() => maxOverMean([])).toThrow(/max\/mean loads: got none, expected one load per device/);
    expect(() => maxOverMean([1, Infinity])).toThrow(/max\/mean loads\[1\]: got Infinity, expected a finite load ≥ 0/);
    expect(() => maxOverMean([1, NaN])).toThrow(/max\/mean loads\[1\]: got NaN/);
    // [-1, 1] sums to 0 and would read as balanced.
    expect(() => maxOverMean([-1, 1])).toThrow(/max\/mean loads\[0\]: got -1/);
  });
});
