import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseClusterSpec } from '../catalog/cluster';
import { estimateHierarchicalAllToAll, rankHitProbability } from './hierarchical-all-to-all';

// Pangu Ultra MoE: EP spread over TP×EP = 32 devices, i.e. 4 Atlas 800T A2 nodes; 256 experts, top-8.
const cluster = parseClusterSpec('atlas-800t-a2:32');
const ultra = { tokensPerRank: 8192, bytesPerToken: 7680 * 2, topK: 8, numExperts: 256, ranks: 32 };

describe('estimateHierarchicalAllToAll (Pangu Ultra MoE dispatch)', () => {
  it('each token crosses to each other node once, whatever topK is', () => {
    for (const topK of [1, 2, 8, 16]) {
      const e = estimateHierarchicalAllToAll(cluster, { ...ultra, topK });
      expect(e.interNodeCopiesPerToken).toBe(3);
      expect(e.interNodeBytesPerRank).toBe(3 * ultra.tokensPerRank * ultra.bytesPerToken);
    }
  });

  it('the flat dispatch sends one copy per remote expert: topK·(nodes−1)/nodes per token', () => {
    const e = estimateHierarchicalAllToAll(cluster, ultra);
    expect(e.flat.interNodeCopiesPerToken).toBe(8 * (3 / 4));
    expect(e.flat.interNodeBytesPerRank).toBe(6 * ultra.tokensPerRank * ultra.bytesPerToken);
    expect(e.timeS).toBeLessThan(e.flat.timeS);
  });

  it('reports bytes per tier and sequential phases: inter-node all-gather, then intra-node all-to-all', () => {
    const e = estimateHierarchicalAllToAll(cluster, ultra);
    expect(e.perTier.map((t) => [t.phase, t.tier])).toEqual([
      [0, 'inter-node'],
      [1, 'intra-node'],
    ]);
    expect(e.timeS).toBeCloseTo(e.perTier[0]!.timeS + e.perTier[1]!.timeS, 15);
    const hit = rankHitProbability(256, 8, 8);
    expect(e.intraNodeBytesPerRank).toBeCloseTo(4 * 8192 * 15360 * 7 * hit, 0);
  });

  it('inside one node there is no inter-node phase', () => {
    const e = estimateHierarchicalAllToAll(parseClusterSpec('atlas-800t-a2:8'), { ...ultra, ranks: 8 });
    expect(e.perTier.map((t) => t.tier)).toEqual(['intra-node']);
    expect(e.interNodeBytesPerRank).toBe(0);
  });

  it('rankHitProbability matches counting for a small case and is a probability', () => {
    // 4 experts, 2 per rank, pick 2: P(rank gets none) = C(2,2)/C(4,2) = 1/6.
    expect(rankHitProbability(4, 2, 2)).toBeCloseTo(5 / 6, 15);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), (ranks, perRank, k) => {
        const experts = ranks * perRank;
        const p = rankHitProbability(experts, perRank, Math.min(k, experts));
        return p >= 0 && p <= 1 + 1e-12;
      }),
    );
  });

  it('bad requests name the field', () => {
    expect(() => estimateHierarchicalAllToAll(cluster, { ...ultra, numExperts: 250 })).toThrow(/numExperts/);
    expect(() => estimateHierarchicalAllToAll(cluster, { ...ultra, topK: 0 })).toThrow(/topK/);
  });
});
