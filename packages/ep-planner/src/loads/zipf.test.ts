import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { zipfLoads } from './zipf';

describe('zipfLoads', () => {
  it('spreads exactly the requested assignments per layer, skewed 1/k^s, and is seeded', () => {
    const loads = zipfLoads({ numLayers: 3, numExperts: 16, exponent: 1, assignmentsPerLayer: 1600, seed: 3 });
    for (const row of loads.layers) {
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1600, 9);
      const sorted = Array.from(row).sort((a, b) => b - a);
      expect(sorted[0]! / sorted[1]!).toBeCloseTo(2, 12); // 1/1 : 1/2
      expect(sorted[0]! / sorted[15]!).toBeCloseTo(16, 12);
    }
    expect(loads.layers[0]).not.toEqual(loads.layers[1]); // hot experts move between layers
    expect(zipfLoads({ numLayers: 3, numExperts: 16, exponent: 1, assignmentsPerLayer: 1600, seed: 3 })).toEqual(loads);
  });

  it('with MoGE groups gives every group the same total, whatever the skew', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.double({ min: 0, max: 2, noNaN: true }), fc.nat(), (groups, size, s, seed) => {
        const loads = zipfLoads({ numLayers: 2, numExperts: groups * size, exponent: s, assignmentsPerLayer: 800, seed, moGeGroups: groups });
        for (const row of loads.layers) {
          for (let g = 0; g < groups; g++) {
            expect(row.subarray(g * size, (g + 1) * size).reduce((a, v) => a + v, 0)).toBeCloseTo(800 / groups, 9);
          }
        }
      }),
    );
  });

  it('rejects groups that do not divide the experts', () => {
    expect(() => zipfLoads({ numLayers: 1, numExperts: 10, exponent: 1, assignmentsPerLayer: 1, seed: 0, moGeGroups: 3 })).toThrow(/moGeGroups/);
  });

  it('validates its options up front, naming the option', () => {
    const base = { numLayers: 2, numExperts: 8, exponent: 1, assignmentsPerLayer: 80, seed: 1 };
    // numLayers 1.5 used to give 2 layers; the NaN exponent and negative assignments were reported as
    // a bad load at layers[0][0].
    expect(() => zipfLoads({ ...base, numLayers: 1.5 })).toThrow(ValidationError);
    expect(() => zipfLoads({ ...base, numLayers: 1.5 })).toThrow(/numLayers: got 1.5/);
    expect(() => zipfLoads({ ...base, exponent: NaN })).toThrow(/exponent: got NaN/);
    expect(() => zipfLoads({ ...base, assignmentsPerLayer: -1 })).toThrow(/assignmentsPerLayer: got -1/);
    expect(() => zipfLoads({ ...base, numExperts: 2.5 })).toThrow(/numExperts: got 2.5/);
    expect(() => zipfLoads({ ...base, moGeGroups: 3 })).toThrow(/moGeGroups: got 3, expected a positive divisor of numExperts \(8\)/);
    expect(zipfLoads(base).numLayers).toBe(2);
  });

  it('takes any finite exponent: a large negative one no longer overflows into NaN loads', () => {
    const base = { numLayers: 1, numExperts: 64, assignmentsPerLayer: 1000, seed: 1 };
    for (const exponent of [-200, -1e6, 1e6]) {
      const row = Array.from(zipfLoads({ ...base, exponent }).layers[0]!).sort((a, b) => b - a);
      expect(row.every(Number.isFinite)).toBe(true);
      expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1000, 9);
      // At s = −200 the two heaviest are the 64th and 63rd ranks: (64/63)^200 to 1. Beyond, one expert takes all.
      if (exponent === -200) expect(row[0]! / row[1]!).toBeCloseTo((64 / 63) ** 200, 9);
      else expect(row[0]).toBeCloseTo(1000, 9);
    }
    // Exponents whose weights stay finite keep the plain formula (2 : 1 at s = −1 for 2 experts).
    const two = Array.from(zipfLoads({ ...base, numExperts: 2, exponent: -1 }).layers[0]!).sort((a, b) => b - a);
    expect(two[0]! / two[1]!).toBe(2);
  });

  it('names assignmentsPerLayer when a load could pass the 1e15 bound, not a load it produced', () => {
    const base = { numLayers: 1, numExperts: 64, exponent: 1, seed: 1 };
    expect(() => zipfLoads({ ...base, assignmentsPerLayer: 1e16 })).toThrow(/assignmentsPerLayer: got 10000000000000000, expected at most 1000000000000000/);
    expect(zipfLoads({ ...base, assignmentsPerLayer: 1e15 }).numExperts).toBe(64);
  });
});
