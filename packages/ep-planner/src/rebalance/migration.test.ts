import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@moge/core';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { placeExperts } from '../placement/place';
import { migrationBetween, mergeMigrations } from './migration';

const bytes = { weightBytes: 1000, optimizerBytes: 6000 };

const pairCase = fc
  .record({ numNodes: fc.integer({ min: 1, max: 3 }), ranksPerNode: fc.integer({ min: 1, max: 3 }), perRank: fc.integer({ min: 1, max: 3 }), spare: fc.integer({ min: 0, max: 2 }), seed: fc.nat() })
  .map((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numExperts = numRanks * c.perRank;
    const rng = new Rng(c.seed);
    const row = () => Array.from({ length: numExperts }, () => rng.int(1000));
    const options = { policy: 'eplb-global' as const, numRanks, numNodes: c.numNodes, redundantSlots: c.spare * numRanks };
    const before = placeExperts(loadMatrixFromRows([row()]), options);
    const after = placeExperts(loadMatrixFromRows([row()]), options);
    return { before, after };
  });

describe('migrationBetween', () => {
  it('moves nothing when the placement does not change', () => {
    fc.assert(
      fc.property(pairCase, ({ before }) => {
        const m = migrationBetween(before.layers[0]!, before.layers[0]!, before, bytes);
        expect([m.copies, m.bytes, m.intraNode.totalBytes, m.interNode.totalBytes]).toEqual([0, 0, 0, 0]);
      }),
    );
  });

  it('transfers each expert a rank newly needs once, each from a rank that held it, and its bytes add up per tier and per rank', () => {
    fc.assert(
      fc.property(pairCase, ({ before, after }) => {
        const { numRanks, slotsPerRank } = before;
        const m = migrationBetween(before.layers[0]!, after.layers[0]!, before, bytes);
        let gained = 0;
        for (let r = 0; r < numRanks; r++) {
          const had = new Set(before.layers[0]!.physicalToLogical.subarray(r * slotsPerRank, (r + 1) * slotsPerRank));
          for (const e of new Set(after.layers[0]!.physicalToLogical.subarray(r * slotsPerRank, (r + 1) * slotsPerRank))) if (!had.has(e)) gained++;
        }
        expect(m.copies).toBe(gained);
        expect(m.transfers).toHaveLength(gained);
        const holds = (layer: typeof before.layers[0], rank: number, e: number) =>
          Array.from(layer!.physicalToLogical.subarray(rank * slotsPerRank, (rank + 1) * slotsPerRank)).includes(e);
        for (const t of m.transfers) {
          expect(holds(before.layers[0], t.fromRank, t.expert)).toBe(true);
          expect(holds(after.layers[0], t.toRank, t.expert)).toBe(true);
          expect(holds(before.layers[0], t.toRank, t.expert)).toBe(false);
        }
        expect(m.bytes).toBe(gained * 7000);
        expect(m.intraNode.totalBytes + m.interNode.totalBytes).toBe(m.bytes);
        for (const t of [m.intraNode, m.interNode]) {
          expect(t.sendBytes.reduce((s, v) => s + v, 0)).toBe(t.totalBytes);
          expect(t.recvBytes.reduce((s, v) => s + v, 0)).toBe(t.totalBytes);
        }
        // Migrations of several layers done together add up rank by rank.
        const merged = mergeMigrations([m, m], numRanks);
        expect(merged.bytes).toBe(2 * m.bytes);
        expect(Array.from(merged.interNode.recvBytes)).toEqual(Array.from(m.interNode.recvBytes, (v) => 2 * v));
      }),
    );
  });

  it('fetches from the same node when a holder is there', () => {
    // 2 nodes × 2 ranks, 1 slot each. Before: experts 0, 1 on node 0 and 2, 3 on node 1; after: 0 and 1 swap ranks.
    const before = placeExperts(loadMatrixFromRows([[1, 1, 1, 1]]), { policy: 'moge', numRanks: 4, numNodes: 2, numGroups: 4 });
    const swapped = { ...before.layers[0]!, physicalToLogical: Int32Array.of(1, 0, 2, 3), logicalToPhysical: Int32Array.of(1, 0, 2, 3) };
    const m = migrationBetween(before.layers[0]!, swapped, before, bytes);
    expect(m.copies).toBe(2);
    expect(m.interNode.totalBytes).toBe(0);
    expect(Array.from(m.intraNode.recvBytes)).toEqual([7000, 7000, 0, 0]);
  });
});
