import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@moge/core';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { placeExperts } from '../placement/place';
import { rankLoadsUnder, maxOverMean } from '../placement/layer-placement';
import { migrationBetween } from './migration';
import { refinePlacement } from './refine';
import { expectLayerConsistent, loadRow } from '../test-support/placement-invariants';

const bytes = { weightBytes: 1, optimizerBytes: 0 };

/** A placement built for one load vector, and a drifted (or wholly new) load vector to refine it for. */
const refineCase = fc
  .record({
    policy: fc.constantFrom('eplb-global' as const, 'eplb-hierarchical' as const, 'greedy' as const, 'moge' as const),
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    perRank: fc.integer({ min: 1, max: 3 }),
    spare: fc.integer({ min: 0, max: 2 }),
    maxMoves: fc.integer({ min: 1, max: 12 }),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numExperts = numRanks * c.perRank;
    // Skewed, sparse, single-hot-expert, idle and uniform loads; the second step a new hot set.
    return fc.record({ c: fc.constant(c), first: loadRow(numExperts), second: loadRow(numExperts) }).map(({ first, second }) => {
      const options =
        c.policy === 'moge'
          ? { policy: c.policy, numRanks, numNodes: c.numNodes } // one group per rank, no replicas
          : { policy: c.policy, numRanks, numNodes: c.numNodes, numGroups: c.numNodes, redundantSlots: c.spare * numRanks };
      const placement = placeExperts(loadMatrixFromRows([first]), options);
      return { ...c, shape: placement, current: placement.layers[0]!, loads: Float64Array.from(second) };
    });
  });

describe('refinePlacement', () => {
  it('never raises the peak, moves at most maxMoves copies, keeps every expert and slot count, and stays in nodes when asked', () => {
    fc.assert(
      fc.property(refineCase, ({ shape, current, loads, maxMoves, policy }) => {
        const withinNode = policy === 'eplb-hierarchical';
        const { placement, moves } = refinePlacement(current, loads, shape, { maxMoves, withinNode });
        expect(moves).toBeLessThanOrEqual(maxMoves);
        expect(placement.physicalToLogical.length).toBe(current.physicalToLogical.length);
        // Every slot listed once under its own expert, every expert kept, rank loads from the new loads.
        expectLayerConsistent(placement, shape.numRanks, shape.numExperts, loads);
        const before = maxOverMean(rankLoadsUnder(current, shape.numRanks, loads));
        expect(placement.maxOverMean).toBeLessThanOrEqual(before + 1e-12);
        expect(migrationBetween(current, placement, shape, bytes).copies).toBeLessThanOrEqual(moves);
        if (withinNode) {
          // Every expert's replicas stay on the node(s) that held it before.
          const nodesOf = (p: typeof current, e: number) => {
            const out = new Set<number>();
            for (let i = p.logicalOffsets[e]!; i < p.logicalOffsets[e + 1]!; i++) out.add(Math.floor(p.logicalToPhysical[i]! / shape.slotsPerRank / shape.ranksPerNode));
            return out;
          };
          for (let e = 0; e < shape.numExperts; e++) {
            const was = nodesOf(current, e);
            for (const n of nodesOf(placement, e)) expect(was.has(n)).toBe(true);
          }
        }
        // Deterministic.
        expect(refinePlacement(current, loads, shape, { maxMoves, withinNode })).toEqual({ placement, moves });
      }),
      { numRuns: 150 },
    );
  });

  it('relieves a new hot expert with few moves where placing from scratch moves most of the layer', () => {
    const rng = new Rng(3);
    const first = Array.from({ length: 64 }, () => 100 + rng.int(20));
    const options = { policy: 'eplb-global' as const, numRanks: 16, numNodes: 2, redundantSlots: 16 };
    const current = placeExperts(loadMatrixFromRows([first]), options);
    const second = Float64Array.from(first);
    second[5] = 2000; // expert 5 turns hot
    const stale = maxOverMean(rankLoadsUnder(current.layers[0]!, 16, second));
    const { placement } = refinePlacement(current.layers[0]!, second, current, { maxMoves: 6, withinNode: false });
    const scratch = placeExperts(loadMatrixFromRows([Array.from(second)]), options).layers[0]!;
    expect(placement.maxOverMean).toBeLessThan(stale * 0.7);
    expect(placement.replicaCounts[5]).toBeGreaterThan(current.layers[0]!.replicaCounts[5]!);
    expect(migrationBetween(current.layers[0]!, placement, current, bytes).copies).toBeLessThanOrEqual(6);
    expect(migrationBetween(current.layers[0]!, scratch, current, bytes).copies).toBeGreaterThan(20);
  });

  it('refuses loads that are NaN, negative or not one per expert, and a maxMoves that is not a count', () => {
    const placed = placeExperts(loadMatrixFromRows([[1, 2, 3, 4]]), { policy: 'eplb-global', numRanks: 2, redundantSlots: 2 });
    const refine = (loads: number[], maxMoves = 4) => () => refinePlacement(placed.layers[0]!, loads, placed, { maxMoves, withinNode: false });
    // Before, NaN and a short row gave rank loads of NaN and a max/mean of 1; a long row was cut short.
    expect(refine([10, 1, 1, Number.NaN])).toThrow(/loads\[3\]: got NaN, expected a finite load/);
    expect(refine([-50, 1, 1, 1])).toThrow(/loads\[0\]: got -50/);
    expect(refine([10, 1, 1])).toThrow(/loads: got 3, expected 4 entries/);
    expect(refine([10, 1, 1, 1, 99])).toThrow(/loads: got 5, expected 4 entries/);
    expect(refine([10, 1, 1, 1], 1.5)).toThrow(/maxMoves: got 1\.5, expected a non-negative integer/);
    expect(refine([10, 1, 1, 1], Number.NaN)).toThrow(/maxMoves: got NaN/);
    expect(refine([10, 1, 1, 1], 0)().moves).toBe(0);
  });
});

