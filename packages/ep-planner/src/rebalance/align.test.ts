import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@moge/core';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { buildLayerPlacement } from '../placement/layer-placement';
import { placeExperts } from '../placement/place';
import { PlacementPolicySchema } from '../placement/options';
import { alignPlacement, retained } from './align';
import { migrationBetween } from './migration';
import { expectLayerConsistent, loadRow } from '../test-support/placement-invariants';

const bytes = { weightBytes: 1, optimizerBytes: 0 };

/** Two placements of one layer under the same options from two load vectors (a drift, or a new hot set). */
const pairCase = fc
  .record({
    policy: fc.constantFrom(...PlacementPolicySchema.options),
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    perRank: fc.integer({ min: 1, max: 3 }),
    spare: fc.integer({ min: 0, max: 2 }),
    drift: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    seed: fc.nat(),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numExperts = numRanks * c.perRank;
    return fc.record({ c: fc.constant(c), first: loadRow(numExperts), fresh: loadRow(numExperts) }).map(({ first, fresh }) => {
      const rng = new Rng(c.seed);
      // The second step drifts from the first by up to ±drift, or (no drift) is a wholly new load vector.
      const second = c.drift === undefined ? fresh : first.map((v) => v * (1 + c.drift! * (2 * rng.float() - 1)));
      const options =
        c.policy === 'moge'
          ? { policy: c.policy, numRanks, numNodes: c.numNodes } // one group per rank, no replicas
          : { policy: c.policy, numRanks, numNodes: c.numNodes, numGroups: c.numNodes, redundantSlots: c.spare * numRanks };
      const before = placeExperts(loadMatrixFromRows([first]), options);
      const after = placeExperts(loadMatrixFromRows([second]), options);
      return { shape: before, before: before.layers[0]!, after: after.layers[0]!, loads: Float64Array.from(second) };
    });
  });

function rankSets(slots: Int32Array, numRanks: number): string[] {
  const per = slots.length / numRanks;
  return Array.from({ length: numRanks }, (_, r) => Array.from(slots.subarray(r * per, (r + 1) * per)).join(','));
}

describe('alignPlacement', () => {
  it('keeps the rank loads (as a multiset), the max/mean and the node of every set, and never moves more', () => {
    fc.assert(
      fc.property(pairCase, ({ shape, before, after, loads }) => {
        const aligned = alignPlacement(before, after, shape, loads);
        // Every slot listed once under its own expert, every expert kept, rank loads from `loads`.
        expectLayerConsistent(aligned, shape.numRanks, shape.numExperts, loads);
        expect(aligned.maxOverMean).toBeCloseTo(after.maxOverMean, 12);
        expect(Array.from(aligned.rankLoads).sort()).toEqual(Array.from(after.rankLoads).sort());
        expect(rankSets(aligned.physicalToLogical, shape.numRanks).sort()).toEqual(rankSets(after.physicalToLogical, shape.numRanks).sort());
        // Whole nodes move together: the sets of each aligned node are the sets of one node of `after`.
        const nodeOf = (sets: string[]) =>
          Array.from({ length: shape.numNodes }, (_, n) => sets.slice(n * shape.ranksPerNode, (n + 1) * shape.ranksPerNode).sort().join('|')).sort();
        expect(nodeOf(rankSets(aligned.physicalToLogical, shape.numRanks))).toEqual(nodeOf(rankSets(after.physicalToLogical, shape.numRanks)));
        const movedAligned = migrationBetween(before, aligned, shape, bytes).copies;
        const movedPlain = migrationBetween(before, after, shape, bytes).copies;
        expect(movedAligned).toBeLessThanOrEqual(movedPlain);
        expect(retained(before, aligned, shape.numRanks) + movedAligned).toBe(retained(before, after, shape.numRanks) + movedPlain);
      }),
    );
  });

  it('undoes a relabelling of nodes and of ranks inside nodes: nothing moves', () => {
    fc.assert(
      fc.property(pairCase, fc.nat(), ({ shape, before, loads }, seed) => {
        const rng = new Rng(seed);
        const nodes = Int32Array.from({ length: shape.numNodes }, (_, i) => i);
        rng.shuffle(nodes);
        const ranks = Int32Array.from({ length: shape.ranksPerNode }, (_, i) => i);
        const per = before.physicalToLogical.length / shape.numRanks;
        const slots = new Int32Array(before.physicalToLogical.length);
        for (let n = 0; n < shape.numNodes; n++) {
          rng.shuffle(ranks);
          for (let i = 0; i < shape.ranksPerNode; i++) {
            const from = n * shape.ranksPerNode + i;
            const to = nodes[n]! * shape.ranksPerNode + ranks[i]!;
            slots.set(before.physicalToLogical.subarray(from * per, (from + 1) * per), to * per);
          }
        }
        const relabelled = buildLayerPlacement(slots, shape.numRanks, shape.numExperts, loads);
        const aligned = alignPlacement(before, relabelled, shape, loads);
        expectLayerConsistent(aligned, shape.numRanks, shape.numExperts, loads);
        // Distinct expert sets per rank pin the relabelling down; with replicas two ranks can hold
        // the same set, and either choice keeps everything in place.
        expect(migrationBetween(before, aligned, shape, bytes).copies).toBe(0);
      }),
    );
  });

  it('cuts what a re-placement moves after a small drift', () => {
    const rng = new Rng(7);
    const first = Array.from({ length: 64 }, (_, e) => 1000 / (1 + e) + rng.int(10));
    const second = first.map((v) => v * (0.95 + 0.1 * rng.float()));
    const options = { policy: 'eplb-global' as const, numRanks: 16, numNodes: 2, redundantSlots: 16 };
    const before = placeExperts(loadMatrixFromRows([first]), options);
    const after = placeExperts(loadMatrixFromRows([second]), options);
    const aligned = alignPlacement(before.layers[0]!, after.layers[0]!, before, Float64Array.from(second));
    const plain = migrationBetween(before.layers[0]!, after.layers[0]!, before, bytes).copies;
    const fewer = migrationBetween(before.layers[0]!, aligned, before, bytes).copies;
    expect(fewer).toBeLessThan(plain);
  });
});
