import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nearestClusterSizes, nearestSizes } from './nearest';
import { clusterSize, isNearest } from './nearest.testing';

describe('nearest sizes', () => {
  it('finds the nearest accepted integer on each side (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 2, max: 13 }), fc.integer({ min: 0, max: 12 }), (from, mod, rem) => {
        const ok = (n: number) => n % mod === rem % mod;
        expect(isNearest(from, nearestSizes(from, 2 * from, ok), 2 * from, () => true, ok)).toBe(true);
      }),
    );
  });

  it('suggests only clusters that can exist, with the devices per node they have (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 8, 16), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 9 }), (node, k, mod) => {
        const devices = k <= node ? k : node * k;
        const seen: [number, number][] = [];
        const ok = (n: number) => n % mod === 0;
        const found = nearestClusterSizes(devices, node, (n, perNode) => (seen.push([n, perNode]), ok(n)));
        for (const [n, perNode] of seen) {
          expect(clusterSize(node)(n)).toBe(true);
          expect(perNode).toBe(Math.min(n, node));
        }
        expect(isNearest(devices, found, Math.max(2 * devices, 2 * node), clusterSize(node), ok)).toBe(true);
      }),
    );
  });
});
