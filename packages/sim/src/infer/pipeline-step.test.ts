import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { estimateCollective, parseClusterSpec } from '@moge/ascend-hal';
import { CommCostCache } from '../common/comm-cost';
import { pipelineHops, pipelineStepTime, type HopCostInput } from './pipeline-step';

describe('pipelineStepTime', () => {
  it('prefill: the stages one after the other, the sends between them, the host once', () => {
    // 3 + 5 (stages) + 1 (send 0 → 1) + 2 (host) = 11
    expect(pipelineStepTime([3, 5], { sendS: [1, 0] }, 2, false)).toEqual({ stepTimeS: 11, p2pS: 1, busiestStage: 1, limitedBy: 'round-trip' });
  });

  it('decode with near-balanced stages: one micro-batch\'s trip round the ring', () => {
    // Round trip 3 + 5 + 1 + 0.5 + 2 = 11.5; busiest stage 2 × (5 + 0.5) = 11; host 2 × 2 = 4.
    expect(pipelineStepTime([3, 5], { sendS: [1, 0.5] }, 2, true)).toEqual({ stepTimeS: 11.5, p2pS: 1.5, busiestStage: 1, limitedBy: 'round-trip' });
  });

  it('decode with unbalanced stages: the slowest stage serves its pp micro-batches one after the other', () => {
    // Round trip 1 + 9 + 1 + 1 = 12; busiest stage 2 × (9 + 0.5) = 19.
    expect(pipelineStepTime([1, 9], { sendS: [0.5, 0.5] }, 1, true)).toEqual({ stepTimeS: 19, p2pS: 1, busiestStage: 1, limitedBy: 'busiest-stage' });
    // A host slower than every stage paces the ring: 4 × 5 = 20 > 4 + 1 + 5 = 10.
    expect(pipelineStepTime([1, 1, 1, 1], { sendS: [0.25, 0.25, 0.25, 0.25] }, 5, true).limitedBy).toBe('host');
  });

  it('decode with fewer sequences than stages: only the micro-batches that hold sequences queue at a stage', () => {
    // One sequence over 2 stages: one micro-batch, so the step is its round trip 1 + 9 + 0.5 + 0.5 + 1 = 12, not 2 × 9.5.
    expect(pipelineStepTime([1, 9], { sendS: [0.5, 0.5] }, 1, true, 1)).toEqual({ stepTimeS: 12, p2pS: 1, busiestStage: 1, limitedBy: 'round-trip' });
    // Three of four: 3 × 9.5 = 28.5.
    expect(pipelineStepTime([1, 9, 1, 1], { sendS: [0.5, 0.5, 0.5, 0.5] }, 1, true, 3).stepTimeS).toBe(28.5);
  });

  it('balanced stages give pp × stage + pp × send + host, and pp = 1 gives stage + host', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.double({ min: 1e-4, max: 1, noNaN: true }), fc.double({ min: 0, max: 1e-3, noNaN: true }), fc.double({ min: 0, max: 1e-4, noNaN: true }), (pp, t, p, host) => {
        const r = pipelineStepTime(new Array<number>(pp).fill(t), { sendS: new Array<number>(pp).fill(pp === 1 ? 0 : p) }, host, true);
        const expected = pp === 1 ? t + host : pp * t + pp * p + host;
        expect(r.stepTimeS).toBeCloseTo(expected, 12);
        if (pp === 1) expect(r.stepTimeS).toBe(t + host);
      }),
      { numRuns: 100, seed: 13 },
    );
  });
});

describe('pipelineHops', () => {
  const cluster = parseClusterSpec('atlas-800i-a2:16');
  const hops = (over: Partial<HopCostInput>) =>
    pipelineHops({ comm: new CommCostCache(cluster), pp: 4, stageDevices: 4, devicesPerNode: 8, tp: { size: 4, ranksPerNode: 4 }, activationBytes: 4e6, returnBytes: 256, callOverheadS: 1e-5, ...over }).sendS;
  const p2p = (bytes: number, crossNode: boolean) => estimateCollective(cluster, { op: 'send-recv', bytes, ranks: 2, ranksPerNode: crossNode ? 1 : 2 }).timeS;
  const gather = (bytes: number) => estimateCollective(cluster, { op: 'all-gather', bytes, ranks: 4, ranksPerNode: 4 }).timeS;

  it('costs a hop as each TP rank\'s 1/tp share sent, then the TP all-gather, each call with its launch', () => {
    const s = hops({});
    // Stages 0,1 share node 0, stages 2,3 node 1: only 1 → 2 and the return 3 → 0 cross.
    expect(s[0]).toBeCloseTo(p2p(1e6, false) + gather(4e6) + 2e-5, 15);
    expect(s[1]).toBeCloseTo(p2p(1e6, true) + gather(4e6) + 2e-5, 15);
    expect(s[2]).toBeCloseTo(p2p(1e6, false) + gather(4e6) + 2e-5, 15);
    // The sampled tokens go back whole, one send, no gather.
    expect(s[3]).toBeCloseTo(p2p(256, true) + 1e-5, 15);
    expect(s[1]!).toBeGreaterThan(s[0]!);
  });

  it('has no return hop in prefill and no hop at all with one stage', () => {
    expect(hops({ returnBytes: null })[3]).toBe(0);
    expect(hops({ pp: 1 })).toEqual([0]);
  });
});
