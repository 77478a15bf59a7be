import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { balancedPacking, orderByWeightDescending } from './balanced-packing';

const packingCase = fc
  .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }))
  .chain(([packs, perPack]) =>
    fc.tuple(fc.constant(packs), fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: packs * perPack, maxLength: packs * perPack })),
  );

describe('balancedPacking', () => {
  it('fills every pack with exactly n/m items at distinct positions and conserves weight', () => {
    fc.assert(
      fc.property(packingCase, ([packs, weights]) => {
        const { packOf, slotOf, packWeights } = balancedPacking(weights, packs);
        const perPack = weights.length / packs;
        const seen = new Set<number>();
        const sums = new Float64Array(packs);
        weights.forEach((w, i) => {
          seen.add(packOf[i]! * perPack + slotOf[i]!);
          sums[packOf[i]!]! += w;
        });
        expect(Array.from(packOf).every((p) => p >= 0 && p < packs)).toBe(true);
        expect(Array.from(slotOf).every((j) => j >= 0 && j < perPack)).toBe(true);
        expect(seen.size).toBe(weights.length);
        sums.forEach((s, p) => expect(packWeights[p]).toBeCloseTo(s, 6));
      }),
    );
  });

  it('is longest-processing-time: with one item per pack it is a permutation, with free capacity the heaviest items spread out', () => {
    // 4 items into 2 packs of 2: 10 → pack 0, 9 → pack 1, 2 → pack 1 (lighter), 1 → pack 0.
    const { packOf, packWeights } = balancedPacking([1, 9, 10, 2], 2);
    expect(Array.from(packOf)).toEqual([0, 1, 0, 1]);
    expect(Array.from(packWeights)).toEqual([11, 11]);
  });

  it('matches the straightforward O(n·m) argmin scan it replaces, item for item', () => {
    fc.assert(
      fc.property(packingCase, ([packs, weights]) => {
        const perPack = weights.length / packs;
        const refPack = new Array<number>(weights.length);
        const refWeights = new Array<number>(packs).fill(0);
        const refCounts = new Array<number>(packs).fill(0);
        for (const item of orderByWeightDescending(weights)) {
          let best = -1;
          for (let p = 0; p < packs; p++) {
            if (refCounts[p]! < perPack && (best < 0 || refWeights[p]! < refWeights[best]!)) best = p;
          }
          refPack[item] = best;
          refWeights[best]! += weights[item]!;
          refCounts[best]!++;
        }
        expect(Array.from(balancedPacking(weights, packs).packOf)).toEqual(refPack);
      }),
    );
  });

  it('rejects a pack count that does not divide the items', () => {
    expect(() => balancedPacking([1, 2, 3], 2)).toThrow(/numPacks must be a positive divisor/);
  });

  it('orders heaviest first, ties by index', () => {
    expect(Array.from(orderByWeightDescending([1, 3, 3, 0]))).toEqual([1, 2, 0, 3]);
  });

  it('orders exactly like a comparator sort, across run and merge boundaries and with many ties', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 1e6, noNaN: true })), { maxLength: 300 }), (weights) => {
        const expected = weights.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
        expect(Array.from(orderByWeightDescending(weights))).toEqual(expected);
      }),
    );
  });

  it('orders exactly like a comparator sort where the radix pass hands over: near-equal, negative, -0 and infinite weights', () => {
    const nearEqual = fc.double({ min: 1e6, max: 1e6 + 1, noNaN: true });
    const special = fc.constantFrom(-0, 0, Infinity, -1, -2.5);
    fc.assert(
      fc.property(fc.array(fc.oneof(nearEqual, special, fc.double({ min: 0, max: 10, noNaN: true })), { maxLength: 300 }), (weights) => {
        const expected = weights.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
        expect(Array.from(orderByWeightDescending(weights))).toEqual(expected);
        expect(Array.from(orderByWeightDescending(Float64Array.from(weights)))).toEqual(expected);
      }),
    );
  });
});

describe('balancedPacking with keys (replicas of one expert)', () => {
  it('keeps two items of one key apart when another pack has room, and falls back when none has', () => {
    // Items 0 and 1 are two halves of one expert (key 7). Plain LPT puts the heavy item 2 on
    // pack 0 first (ties go to the lower pack), then both halves on the lighter pack 1.
    const weights = [5, 5, 20, 1];
    expect(Array.from(balancedPacking(weights, 2).packOf)).toEqual([1, 1, 0, 0]);
    const apart = balancedPacking(weights, 2, Int32Array.of(7, 7, 1, 2));
    expect(apart.packOf[0]).not.toBe(apart.packOf[1]);
    // Keys are any Int32 values: negative or huge ones pack exactly like small dense ones.
    const sparse = balancedPacking(weights, 2, Int32Array.of(-5, -5, 2_000_000_000, 2));
    expect(Array.from(sparse.packOf)).toEqual(Array.from(apart.packOf));
    // One pack, two replicas: nowhere else to go.
    expect(Array.from(balancedPacking([1, 1], 1, Int32Array.of(3, 3)).packOf)).toEqual([0, 0]);
  });

  it('still fills every pack exactly, and only doubles a key up on a pack when every open pack already holds it', () => {
    fc.assert(
      fc.property(packingCase, fc.nat(), ([packs, weights], salt) => {
        const keys = Int32Array.from(weights, (_, i) => (i * 7 + salt) % Math.max(1, Math.ceil(weights.length / 3)));
        const { packOf } = balancedPacking(weights, packs, keys);
        const counts = new Array<number>(packs).fill(0);
        packOf.forEach((p) => counts[p]!++);
        expect(counts.every((c) => c === weights.length / packs)).toBe(true);
        // Replay with the O(n·m) rule the heap implements: heaviest item first, to the lightest
        // open pack that does not hold its key yet; only if every open pack holds it, to the
        // lightest open pack. Ties go to the lower pack index.
        const perPack = weights.length / packs;
        const refWeights = new Array<number>(packs).fill(0);
        const refCounts = new Array<number>(packs).fill(0);
        const refHolds = Array.from({ length: packs }, () => new Set<number>());
        const refPack = new Array<number>(weights.length);
        for (const item of orderByWeightDescending(weights)) {
          let best = -1;
          let bestFree = -1;
          for (let p = 0; p < packs; p++) {
            if (refCounts[p]! >= perPack) continue;
            if (best < 0 || refWeights[p]! < refWeights[best]!) best = p;
            if (!refHolds[p]!.has(keys[item]!) && (bestFree < 0 || refWeights[p]! < refWeights[bestFree]!)) bestFree = p;
          }
          const chosen = bestFree >= 0 ? bestFree : best;
          refPack[item] = chosen;
          refWeights[chosen]! += weights[item]!;
          refCounts[chosen]!++;
          refHolds[chosen]!.add(keys[item]!);
        }
        expect(Array.from(packOf)).toEqual(refPack);
      }),
    );
  });

  it('counts the items keys kept off the lightest pack: none means the plain packing, item for item', () => {
    expect(balancedPacking([5, 5, 20, 1], 2, Int32Array.of(7, 7, 1, 2)).displaced).toBe(1);
    expect(balancedPacking([5, 5, 20, 1], 2).displaced).toBe(0);
    fc.assert(
      fc.property(packingCase, fc.nat(), ([packs, weights], salt) => {
        const keys = Int32Array.from(weights, (_, i) => (i * 7 + salt) % Math.max(1, Math.ceil(weights.length / 3)));
        const keyed = balancedPacking(weights, packs, keys);
        const plain = balancedPacking(weights, packs);
        const moved = Array.from(keyed.packOf).filter((p, i) => p !== plain.packOf[i]).length;
        if (keyed.displaced === 0) {
          expect(Array.from(keyed.packOf)).toEqual(Array.from(plain.packOf));
          expect(Array.from(keyed.slotOf)).toEqual(Array.from(plain.slotOf));
        } else expect(moved).toBeGreaterThan(0);
      }),
      { numRuns: 300, seed: 77 },
    );
  });
});
