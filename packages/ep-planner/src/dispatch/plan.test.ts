import { describe, expect, it } from 'vitest';
import { Rng, ValidationError } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { zipfLoads } from '../loads/zipf';
import { placeExperts } from '../placement/place';
import { planDispatch } from './plan';
import { routedTokensFrom, type RoutedTokens } from './routed-tokens';

/** Uniform top-k routing: every token picks topK distinct experts at random. */
function randomTokens(numTokens: number, numRanks: number, numExperts: number, topK: number, seed: number): RoutedTokens {
  const rng = new Rng(seed);
  const sourceRanks = new Int32Array(numTokens);
  const expertIds = new Int32Array(numTokens * topK);
  const ids = Array.from({ length: numExperts }, (_, e) => e);
  for (let t = 0; t < numTokens; t++) {
    sourceRanks[t] = t % numRanks;
    rng.shuffle(ids);
    expertIds.set(ids.slice(0, topK), t * topK);
  }
  return { topK, sourceRanks, expertIds };
}

const cluster = parseClusterSpec('atlas-800t-a2:16'); // 2 nodes × 8 Ascend 910B, HCCS inside, RoCE between
const loads = zipfLoads({ numLayers: 1, numExperts: 64, exponent: 0.8, assignmentsPerLayer: 8192, seed: 1 });
const placement = placeExperts(loads, { policy: 'eplb-hierarchical', numRanks: 16, numNodes: 2, numGroups: 8, redundantSlots: 16 });
const tokenBytes = 7168 * 2; // hidden 7168 in bf16

describe('planDispatch', () => {
  it('with top-8 routing over 2 nodes the hierarchical plan moves fewer inter-node bytes and is chosen', () => {
    const tokens = randomTokens(2048, 16, 64, 8, 5);
    const plan = planDispatch(cluster, placement, 0, tokens, { tokenBytes });
    expect(plan.hierarchical.cost.interNodeBytes).toBeLessThan(plan.flat.cost.interNodeBytes / 2);
    expect(plan.hierarchical.cost.intraNodeBytes).toBeGreaterThan(plan.flat.cost.intraNodeBytes);
    expect(plan.chosen).toBe('hierarchical');
    expect(plan.timeS).toBe(plan.hierarchical.cost.timeS);
    expect(plan.timeS).toBeLessThan(plan.flat.cost.timeS);
    expect(plan.hierarchical.cost.stages.map((s) => s.timeS).every((t) => t > 0)).toBe(true);
    expect(plan.expertLoads.reduce((s, v) => s + v, 0)).toBe(2048 * 8);
    expect(plan.sendCounts.reduce((s, v) => s + v, 0)).toBe(plan.recvCounts.reduce((s, v) => s + v, 0));
  });

  it('with top-1 routing nothing is saved by going through a rail peer, so flat is chosen', () => {
    const tokens = randomTokens(2048, 16, 64, 1, 6);
    const plan = planDispatch(cluster, placement, 0, tokens, { tokenBytes });
    expect(plan.hierarchical.cost.interNodeBytes).toBe(plan.flat.cost.interNodeBytes);
    expect(plan.chosen).toBe('flat');
    expect(plan.timeS).toBe(plan.flat.cost.timeS);
  });

  it('more tokens take longer, and bytes scale with the token size', () => {
    const small = planDispatch(cluster, placement, 0, randomTokens(256, 16, 64, 8, 7), { tokenBytes });
    const large = planDispatch(cluster, placement, 0, randomTokens(4096, 16, 64, 8, 7), { tokenBytes });
    expect(large.timeS).toBeGreaterThan(small.timeS);
    const half = planDispatch(cluster, placement, 0, randomTokens(256, 16, 64, 8, 7), { tokenBytes: tokenBytes / 2 });
    expect(half.flat.cost.interNodeBytes).toBe(small.flat.cost.interNodeBytes / 2);
  });

  it('refuses a layer that does not exist and a placement wider than the cluster', () => {
    const tokens = randomTokens(8, 16, 64, 2, 1);
    expect(() => planDispatch(cluster, placement, 3, tokens, { tokenBytes })).toThrow(ValidationError);
    const small = parseClusterSpec('atlas-800t-a2:8');
    expect(() => planDispatch(small, placement, 0, tokens, { tokenBytes })).toThrow(/placement\.numNodes: got 2, expected at most the 1 nodes/);
    expect(() => planDispatch(cluster, placement, 0, tokens, { tokenBytes: 0 })).toThrow(/tokenBytes/);
  });

  it('refuses routed tokens built in code that name experts or ranks outside the placement, or have the wrong length', () => {
    const tokens = (topK: number, sourceRanks: number[], expertIds: number[]) => ({ topK, sourceRanks: Int32Array.from(sourceRanks), expertIds: Int32Array.from(expertIds) });
    // Before, ids 64 and -1 were dispatched to rank 0 and the short list lost its last assignment.
    expect(() => planDispatch(cluster, placement, 0, tokens(2, [0, 3], [1, 64, 7, 0]), { tokenBytes })).toThrow(/expertIds\[1\]: got 64, expected an expert id in \[0, 64\)/);
    expect(() => planDispatch(cluster, placement, 0, tokens(2, [0, 3], [1, 2, -1, 0]), { tokenBytes })).toThrow(/expertIds\[2\]: got -1/);
    expect(() => planDispatch(cluster, placement, 0, tokens(2, [0, 16], [1, 2, 7, 0]), { tokenBytes })).toThrow(/sourceRanks\[1\]: got 16, expected a rank in \[0, 16\)/);
    expect(() => planDispatch(cluster, placement, 0, tokens(2, [0, 3], [1, 2, 7]), { tokenBytes })).toThrow(/expertIds: got 3, expected 4 ids/);
    expect(() => planDispatch(cluster, placement, 0, tokens(0, [0, 3], []), { tokenBytes })).toThrow(/topK: got 0, expected a positive integer/);
    const fractional = { topK: 1, sourceRanks: [0, 1.5] as unknown as Int32Array, expertIds: Int32Array.from([1, 2]) };
    expect(() => planDispatch(cluster, placement, 0, fractional, { tokenBytes })).toThrow(/sourceRanks\[1\]: got 1\.5/);
  });
});

describe('routedTokensFrom', () => {
  it('packs valid JSON routing into typed arrays', () => {
    const tokens = routedTokensFrom({ topK: 2, sourceRanks: [0, 3], expertIds: [1, 2, 63, 0] }, 16, 64);
    expect(Array.from(tokens.expertIds)).toEqual([1, 2, 63, 0]);
  });

  it('names the field, the value and the range', () => {
    expect(() => routedTokensFrom({ topK: 2, sourceRanks: [0], expertIds: [1] }, 16, 64)).toThrow(/expertIds: got 1, expected 2 ids/);
    expect(() => routedTokensFrom({ topK: 1, sourceRanks: [16], expertIds: [1] }, 16, 64)).toThrow(/sourceRanks\[0\]: got 16, expected a rank in \[0, 16\)/);
    expect(() => routedTokensFrom({ topK: 1, sourceRanks: [0], expertIds: [64] }, 16, 64)).toThrow(/expertIds\[0\]: got 64/);
    expect(() => routedTokensFrom({ topK: 0, sourceRanks: [], expertIds: [] }, 16, 64)).toThrow(/topK/);
  });
});
