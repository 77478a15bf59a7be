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

  it('property: it sends fewer inter-node bytes than the flat dispatch exactly when topK ≥ nodes (ratio nodes / topK)', () => {
    // (nodes − 1) copies of each token against topK · (nodes − 1) / nodes: the node-level gather pays
    // off only once a token's experts are at least as many as the nodes (Pangu Ultra: 8 ≥ 4).
    const big = parseClusterSpec('atlas-800t-a2:64');
    fc.assert(
      fc.property(fc.constantFrom(2, 4, 8), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4096 }), (nodes, topK, tokensPerRank) => {
        const ranks = 8 * nodes;
        const e = estimateHierarchicalAllToAll(big, { tokensPerRank, bytesPerToken: 14336, topK, numExperts: 256, ranks });
        expect(e.interNodeBytesPerRank / e.flat.interNodeBytesPerRank).toBeCloseTo(nodes / topK, 12);
        expect(e.interNodeBytesPerRank <= e.flat.interNodeBytesPerRank * (1 + 1e-12)).toBe(topK >= nodes); // equal at topK = nodes, up to rounding
      }),
      { numRuns: 200 },
    );
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

  it('rankHitProbability is 1 − C(E − perRank, k) / C(E, k), counted exactly', () => {
    // 4 experts, 2 per rank, pick 2: P(rank gets none) = C(2,2)/C(4,2) = 1/6.
    expect(rankHitProbability(4, 2, 2)).toBeCloseTo(5 / 6, 15);
    // Binomials in exact integers: the share of k-subsets of E experts that miss the rank's perRank.
    const choose = (n: number, r: number): bigint => {
      if (r < 0 || r > n) return 0n;
      let c = 1n;
      for (let i = 0; i < r; i++) c = (c * BigInt(n - i)) / BigInt(i + 1);
      return c;
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), (ranks, perRank, kIn) => {
        const experts = ranks * perRank;
        const k = Math.min(kIn, experts);
        const total = choose(experts, k);
        const missing = choose(experts - perRank, k);
        // Scaled to 2⁵³ before the division, so the exact ratio survives as a float.
        const exact = 1 - Number((missing * 2n ** 53n) / total) / 2 ** 53;
        expect(rankHitProbability(experts, perRank, k)).toBeCloseTo(exact, 12);
      }),
      { numRuns: 300 },
    );
  });

  it('bad requests name the field', () => {
    expect(() => estimateHierarchicalAllToAll(cluster, { ...ultra, numExperts: 250 })).toThrow(/numExperts/);
    expect(() => estimateHierarchicalAllToAll(cluster, { ...ultra, topK: 0 })).toThrow(/topK/);
    // Would otherwise give Infinity bytes and time.
    expect(() => estimateHierarchicalAllToAll(cluster, { ...ultra, bytesPerToken: 1e306 })).toThrow(/bytesPerToken/);
  });
});
