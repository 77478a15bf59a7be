import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
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
});
