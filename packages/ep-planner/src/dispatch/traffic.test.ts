import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@moge/core';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { placeExperts, type Placement } from '../placement/place';
import { assignReplicas, type ReplicaChoice } from './replica-choice';
import { expertAssignmentsPerRank, flatTraffic, hierarchicalTraffic } from './traffic';
import type { RoutedTokens } from './routed-tokens';

interface Case {
  placement: Placement;
  tokens: RoutedTokens;
  choice: ReplicaChoice;
}

/** A random EPLB placement (with replicas) and random top-k routing of tokens spread over the ranks. */
const dispatchCase: fc.Arbitrary<Case> = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    expertsPerRank: fc.integer({ min: 1, max: 3 }),
    spare: fc.integer({ min: 0, max: 2 }),
    numTokens: fc.integer({ min: 0, max: 40 }),
    seed: fc.nat(),
    choice: fc.constantFrom<ReplicaChoice>('round-robin', 'nearest'),
  })
  .map((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numExperts = numRanks * c.expertsPerRank;
    const rng = new Rng(c.seed);
    const loads = loadMatrixFromRows([Array.from({ length: numExperts }, () => rng.int(100))]);
    const placement = placeExperts(loads, { policy: 'eplb-global', numRanks, numNodes: c.numNodes, redundantSlots: c.spare * numRanks });
    const topK = 1 + rng.int(Math.min(4, numExperts));
    const sourceRanks = new Int32Array(c.numTokens);
    const expertIds = new Int32Array(c.numTokens * topK);
    for (let t = 0; t < c.numTokens; t++) {
      sourceRanks[t] = rng.int(numRanks);
      const ids = Array.from({ length: numExperts }, (_, e) => e);
      rng.shuffle(ids);
      expertIds.set(ids.slice(0, topK), t * topK); // a router picks K distinct experts
    }
    return { placement, tokens: { topK, sourceRanks, expertIds }, choice: c.choice };
  });

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('dispatch traffic', () => {
  it('sends every (token, expert) to a rank that holds that expert', () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens, choice }) => {
        const layer = placement.layers[0]!;
        const dest = assignReplicas(tokens, layer, placement, choice);
        const misplaced = Array.from(dest).filter((rank, a) => {
          const slots = layer.physicalToLogical.subarray(rank * placement.slotsPerRank, (rank + 1) * placement.slotsPerRank);
          return !slots.includes(tokens.expertIds[a]!);
        });
        expect(misplaced).toEqual([]);
        expect(sum(expertAssignmentsPerRank(dest, placement.numRanks))).toBe(tokens.expertIds.length);
      }),
    );
  });

  it('conserves tokens: both plans deliver the same copies to the same ranks, and every tier sends what it receives', () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens, choice }) => {
        const dest = assignReplicas(tokens, placement.layers[0]!, placement, choice);
        const flat = flatTraffic(tokens.sourceRanks, dest, tokens.topK, placement);
        const hier = hierarchicalTraffic(tokens.sourceRanks, dest, tokens.topK, placement);
        // Distinct destination ranks per token, counted independently of the planners.
        let copies = 0;
        for (let t = 0; t < tokens.sourceRanks.length; t++) copies += new Set(dest.subarray(t * tokens.topK, (t + 1) * tokens.topK)).size;
        expect(sum(flat.sendMatrix)).toBe(copies);
        expect(sum(flat.delivered) + sum(flat.local)).toBe(copies);
        expect(Array.from(hier.delivered)).toEqual(Array.from(flat.delivered));
        expect(Array.from(hier.local)).toEqual(Array.from(flat.local));
        for (const plan of [flat, hier]) {
          for (const tier of [plan.intraNode, plan.interNode]) {
            expect(sum(tier.sendTokens)).toBe(tier.totalTokens);
            expect(sum(tier.recvTokens)).toBe(tier.totalTokens);
          }
        }
        expect(flat.intraNode.totalTokens + flat.interNode.totalTokens).toBe(sum(flat.delivered));
        // The stage matrices carry exactly the tier traffic.
        expect(sum(hier.railMatrix)).toBe(hier.interNode.totalTokens);
        expect(sum(hier.nodeMatrix)).toBe(hier.intraNode.totalTokens);
        // Each token crosses to a remote node at most once per node, never more often than in the flat plan.
        expect(hier.interNode.totalTokens).toBeLessThanOrEqual(flat.interNode.totalTokens);
      }),
    );
  });

  it('is deterministic: the same tokens and placement give the same plan', () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens, choice }) => {
        const a = assignReplicas(tokens, placement.layers[0]!, placement, choice);
        const b = assignReplicas(tokens, placement.layers[0]!, placement, choice);
        expect(b).toEqual(a);
        expect(hierarchicalTraffic(tokens.sourceRanks, b, tokens.topK, placement)).toEqual(hierarchicalTraffic(tokens.sourceRanks, a, tokens.topK, placement));
      }),
    );
  });

  it('round-robin splits an expert evenly over its replicas', () => {
    const loads = loadMatrixFromRows([[90, 1, 1, 1]]);
    const placement = placeExperts(loads, { policy: 'eplb-global', numRanks: 4, numNodes: 2, redundantSlots: 4 }); // expert 0 gets 5 replicas
    const layer = placement.layers[0]!;
    const tokens: RoutedTokens = { topK: 1, sourceRanks: new Int32Array(100).fill(0), expertIds: new Int32Array(100) };
    const rr = expertAssignmentsPerRank(assignReplicas(tokens, layer, placement, 'round-robin'), 4);
    const perReplica = 100 / layer.replicaCounts[0]!;
    rr.forEach((count, rank) => {
      const replicasHere = Array.from(layer.physicalToLogical.subarray(rank * 2, rank * 2 + 2)).filter((e) => e === 0).length;
      expect(Math.abs(count - replicasHere * perReplica)).toBeLessThanOrEqual(replicasHere);
    });
  });

  it("nearest picks a replica on the token's own rank, else on its node, whenever one exists", () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens }) => {
        const layer = placement.layers[0]!;
        const { slotsPerRank, ranksPerNode } = placement;
        const dest = assignReplicas(tokens, layer, placement, 'nearest');
        const node = (r: number) => Math.floor(r / ranksPerNode);
        const farther = Array.from(dest).filter((rank, a) => {
          const src = tokens.sourceRanks[Math.floor(a / tokens.topK)]!;
          const e = tokens.expertIds[a]!;
          const holders = Array.from(layer.logicalToPhysical.subarray(layer.logicalOffsets[e]!, layer.logicalOffsets[e + 1]!), (p) => Math.floor(p / slotsPerRank));
          if (holders.includes(src)) return rank !== src;
          return holders.some((h) => node(h) === node(src)) && node(rank) !== node(src);
        });
        expect(farther).toEqual([]);
      }),
    );
  });

  it('hierarchical sends one copy per remote node where flat sends one per remote rank', () => {
    // 2 nodes × 2 ranks, one expert per rank; a token on rank 0 picks experts 2 and 3 (both on node 1).
    const placement = placeExperts(loadMatrixFromRows([[1, 1, 1, 1]]), { policy: 'moge', numRanks: 4, numNodes: 2, numGroups: 4 });
    const tokens: RoutedTokens = { topK: 2, sourceRanks: Int32Array.of(0), expertIds: Int32Array.of(2, 3) };
    const dest = assignReplicas(tokens, placement.layers[0]!, placement, 'round-robin');
    const flat = flatTraffic(tokens.sourceRanks, dest, 2, placement);
    const hier = hierarchicalTraffic(tokens.sourceRanks, dest, 2, placement);
    expect([flat.interNode.totalTokens, flat.intraNode.totalTokens]).toEqual([2, 0]);
    // Rank 0 → rank 2 (same rail) over the network, then rank 2 → rank 3 inside node 1.
    expect([hier.interNode.totalTokens, hier.intraNode.totalTokens]).toEqual([1, 1]);
    expect(Array.from(hier.interNode.recvTokens)).toEqual([0, 0, 1, 0]);
    expect(Array.from(hier.intraNode.sendTokens)).toEqual([0, 0, 1, 0]);
  });
});
