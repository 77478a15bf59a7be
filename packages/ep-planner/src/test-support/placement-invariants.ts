/**
 * Shared test support (not exported from the package): the structural invariants every layer
 * placement must satisfy, whoever produced it (a policy, `refinePlacement`, `alignPlacement`), and
 * load-vector generators with the shapes real MoE layers have.
 */
import { expect } from 'vitest';
import fc from 'fast-check';
import { replicasOf, type LayerPlacement } from '../placement/layer-placement';

/**
 * "Placement conserves experts", checked from the definitions and not from the code's own derived
 * maps: every physical slot 0..P−1 appears exactly once across the replicasOf lists, each list is
 * ascending and holds only slots whose expert is its own, every expert has ≥ 1 replica, the CSR
 * offsets and replica counts agree with a recount of physicalToLogical, slots of a rank are sorted
 * by expert id, and rankLoads is each expert's load split evenly over its replicas.
 */
export function expectLayerConsistent(layer: LayerPlacement, numRanks: number, numExperts: number, loads: ArrayLike<number>): void {
  const numPhysical = layer.physicalToLogical.length;
  expect(numPhysical % numRanks).toBe(0);
  const slotsPerRank = numPhysical / numRanks;
  expect(layer.logicalToPhysical.length).toBe(numPhysical);
  expect(layer.logicalOffsets.length).toBe(numExperts + 1);
  expect(layer.replicaCounts.length).toBe(numExperts);
  expect(layer.logicalOffsets[0]).toBe(0);
  expect(layer.logicalOffsets[numExperts]).toBe(numPhysical);

  // Recount replicas from physicalToLogical alone.
  const holders = new Int32Array(numExperts);
  const outOfRange: number[] = [];
  layer.physicalToLogical.forEach((e, p) => {
    if (e < 0 || e >= numExperts) outOfRange.push(p);
    else holders[e]!++;
  });
  expect(outOfRange).toEqual([]);
  expect(Array.from(layer.replicaCounts)).toEqual(Array.from(holders));
  expect(Array.from(holders).filter((n) => n < 1)).toEqual([]); // no expert lost

  // Union of replicasOf(e) over all e is exactly {0 .. P−1}, each slot once, in the list of its own expert.
  const timesListed = new Int32Array(numPhysical);
  const wrongList: string[] = [];
  const badOrder: number[] = [];
  for (let e = 0; e < numExperts; e++) {
    const slots = replicasOf(layer, e);
    if (slots.length !== layer.replicaCounts[e]) wrongList.push(`expert ${e}: ${slots.length} slots listed, count ${layer.replicaCounts[e]}`);
    for (let i = 0; i < slots.length; i++) {
      const p = slots[i]!;
      if (!(p >= 0 && p < numPhysical)) {
        wrongList.push(`expert ${e}: slot ${p} out of range`);
        continue;
      }
      timesListed[p]!++;
      if (layer.physicalToLogical[p] !== e) wrongList.push(`expert ${e}: slot ${p} holds ${layer.physicalToLogical[p]}`);
      if (i > 0 && slots[i - 1]! >= p) badOrder.push(e);
    }
  }
  expect(wrongList).toEqual([]);
  expect(badOrder).toEqual([]);
  const notOnce = Array.from(timesListed).flatMap((n, p) => (n === 1 ? [] : [`slot ${p} listed ${n}×`]));
  expect(notOnce).toEqual([]);

  // Slots of a rank sorted by expert id (the documented canonical form).
  const unsortedRanks: number[] = [];
  for (let r = 0; r < numRanks; r++) {
    for (let j = 1; j < slotsPerRank; j++) {
      if (layer.physicalToLogical[r * slotsPerRank + j - 1]! > layer.physicalToLogical[r * slotsPerRank + j]!) {
        unsortedRanks.push(r);
        break;
      }
    }
  }
  expect(unsortedRanks).toEqual([]);

  // Rank loads: every expert's load split evenly over its replicas; the total load is conserved.
  const expected = new Float64Array(numRanks);
  layer.physicalToLogical.forEach((e, p) => (expected[Math.floor(p / slotsPerRank)]! += loads[e]! / holders[e]!));
  expect(layer.rankLoads.length).toBe(numRanks);
  layer.rankLoads.forEach((v, r) => expect(v).toBeCloseTo(expected[r]!, 6));
  let total = 0;
  for (let e = 0; e < numExperts; e++) total += loads[e]!;
  expect(Array.from(layer.rankLoads).reduce((s, v) => s + v, 0)).toBeCloseTo(total, 6);
  // max/mean of the rank loads (mean of the recomputed rank loads: subnormal loads split over replicas can round to 0).
  const mean = expected.reduce((s, v) => s + v, 0) / numRanks;
  expect(layer.maxOverMean).toBeCloseTo(mean > 0 ? Math.max(...expected) / mean : 1, 9);
  expect(layer.maxOverMean).toBeGreaterThanOrEqual(1 - 1e-12);
}

/**
 * Tokens per expert for one layer, in the shapes MoE layers show: uniform, Zipf-skewed with the hot
 * experts at random positions, sparse (most experts receive nothing), all tokens on one expert, all
 * zero (an idle layer), and fractional (EMA predictions).
 */
export function loadRow(numExperts: number): fc.Arbitrary<number[]> {
  const permutation = fc.shuffledSubarray(
    Array.from({ length: numExperts }, (_, e) => e),
    { minLength: numExperts, maxLength: numExperts },
  );
  return fc.oneof(
    fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: numExperts, maxLength: numExperts }),
    fc
      .record({ s: fc.double({ min: 0.3, max: 2.5, noNaN: true }), total: fc.integer({ min: 1, max: 100_000 }), order: permutation })
      .map(({ s, total, order }) => {
        const row = new Array<number>(numExperts).fill(0);
        let norm = 0;
        for (let k = 0; k < numExperts; k++) norm += 1 / Math.pow(k + 1, s);
        order.forEach((e, k) => (row[e] = Math.round((total / Math.pow(k + 1, s)) / norm)));
        return row;
      }),
    fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 1000 }) }), {
      minLength: numExperts,
      maxLength: numExperts,
    }),
    fc.record({ hot: fc.nat(numExperts - 1), tokens: fc.integer({ min: 1, max: 100_000 }) }).map(({ hot, tokens }) => {
      const row = new Array<number>(numExperts).fill(0);
      row[hot] = tokens;
      return row;
    }),
    fc.constant(new Array<number>(numExperts).fill(0)),
    fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: numExperts, maxLength: numExperts }),
  );
}
