import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { simulateTraining } from '../train/simulate';
import { evenRanks } from './comm-cost';

describe('groups that fill their nodes unevenly', () => {
  it('are costed on the smallest even group over the same nodes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 16 }), (size, perNodeCap) => {
        const ranksPerNode = Math.min(size, perNodeCap);
        const even = evenRanks({ size, ranksPerNode });
        expect(even % ranksPerNode).toBe(0);
        expect(even / ranksPerNode).toBe(Math.ceil(size / ranksPerNode));
        expect(even).toBeGreaterThanOrEqual(size);
        expect(even - size).toBeLessThan(ranksPerNode);
      }),
    );
  });

  it('let Megatron-valid plans with such groups simulate instead of failing inside the collective model', () => {
    const pro = getPreset('pangu-pro-moe');
    // dp 3 × cp 2 at stride tp 2 on 8-device nodes: the DP×CP group of 6 has 4 ranks on one node and 2
    // on the next; cp 4 × dp 5 (20 ranks) fills 8 + 8 + 4. Both used to throw "ranksPerNode … a divisor of ranks".
    const cases = [
      { plan: { tp: 2, cp: 2, pp: 2, dp: 3, ep: 4, sequenceParallel: true, globalBatchSize: 9, seqLength: 1024 }, devices: 24 },
      { plan: { tp: 1, cp: 4, pp: 1, dp: 5, ep: 4, globalBatchSize: 10, seqLength: 1024, recompute: ['layer' as const] }, devices: 24 },
    ];
    for (const { plan, devices } of cases) {
      const r = simulateTraining({ arch: pro, cluster: parseClusterSpec(`atlas-800t-a2:${devices}`), plan: ParallelPlanSchema.parse(plan) });
      expect(Number.isFinite(r.stepTimeS) && r.stepTimeS > 0).toBe(true);
      expect(r.breakdown.exposedComm.dpS).toBeGreaterThanOrEqual(0);
    }
  });
});
