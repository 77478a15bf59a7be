import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MoeArch } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { clusterSize, isNearest } from '../common/nearest.testing';
import { explainEmptyPlanSpace, tallyPlanSpaceRules } from './empty-plan-space';
import type { PlanSpaceRule, PlanTemplate } from './plan-space-rules';
import { searchTraining } from './search';
import { enumeratePlans, PlanSpaceSchema, type PlanSpace } from './search-space';

const ultra = getPreset('pangu-ultra-moe');
const hasPlan = (archs: MoeArch[], space: PlanSpace, t: PlanTemplate) => archs.some((a) => !enumeratePlans(a, space, t).next().done);

describe('explainEmptyPlanSpace', () => {
  const space = PlanSpaceSchema.parse({});

  it('says why pangu-ultra-moe has no plan on 6144 devices with 1024 sequences, and which batches and clusters do', () => {
    const t: PlanTemplate = { globalBatchSize: 1024, seqLength: 4096, devices: 6144, devicesPerNode: 8 };
    const why = explainEmptyPlanSpace([ultra], space, t)!;
    expect(why).toBeDefined();
    // 6144 = 3 · 2048: every tp·cp·pp that divides it leaves a dp with a factor 3, which 1024/mbs never has.
    expect(why.eliminatedBy.at(-1)!.rule).toBe('batch-divides');
    expect(why.eliminatedBy.reduce((s, r) => s + r.combinations, 0)).toBe(why.combinations);
    expect(why.combinations).toBe(space.tp.length * space.cp.length * space.pp.length * space.vpp.length * space.microBatchSize.length * space.ep.length * space.etp.length);
    expect(why.eliminatedBy.find((r) => r.rule === why.mostEliminating)!.combinations).toBe(Math.max(...why.eliminatedBy.map((r) => r.combinations)));
    expect(why.globalBatchSizes.below).toBeDefined();
    expect(why.globalBatchSizes.above).toBeDefined();
    expect(isNearest(1024, why.globalBatchSizes, 2048, () => true, (globalBatchSize) => hasPlan([ultra], space, { ...t, globalBatchSize }))).toBe(true);
    expect(isNearest(6144, why.devices, 12288, clusterSize(8), (devices) => hasPlan([ultra], space, { ...t, devices, devicesPerNode: 8 }))).toBe(true);
    // With the batch of the brief's workaround the space has plans: nothing to explain.
    expect(explainEmptyPlanSpace([ultra], space, { ...t, globalBatchSize: 1536 })).toBeUndefined();
  });

  it('names the one rule that removes everything, and suggests nothing when no batch or cluster helps', () => {
    const why = explainEmptyPlanSpace([ultra], PlanSpaceSchema.parse({ tp: [3] }), { globalBatchSize: 64, seqLength: 4096, devices: 64, devicesPerNode: 8 })!;
    expect(why.eliminatedBy.map((r) => r.rule)).toEqual(['tp-splits-model']);
    expect(why.globalBatchSizes).toEqual({});
    expect(why.devices).toEqual({});
  });

  it('counts with the checks enumeratePlans applies: what no rule removed is what it yields (property)', () => {
    const archs = [getPreset('moge-tiny'), getPreset('moge-small'), getPreset('dense-32b')];
    const sub = <T>(values: T[]) => fc.subarray(values, { minLength: 1 });
    fc.assert(
      fc.property(
        fc.constantFrom(...archs),
        fc.record({ tp: sub([1, 2, 4, 8]), cp: sub([1, 2, 4]), pp: sub([1, 2, 3, 4]), vpp: sub([1, 2, 3]), ep: sub([1, 2, 4, 8]), etp: sub([1, 2]), microBatchSize: sub([1, 2, 4]), recompute: sub(['none', 'full'] as const), maxNoopLayers: fc.integer({ min: 0, max: 2 }) }),
        fc.integer({ min: 1, max: 48 }),
        fc.constantFrom(1, 2, 3, 4, 6, 8, 16, 24, 40),
        fc.constantFrom(256, 384, 1024),
        (arch, spaceInput, globalBatchSize, devices, seqLength) => {
          const sp = PlanSpaceSchema.parse(spaceInput);
          // A cluster of part of an 8-device node has that many devices per node.
          const t: PlanTemplate = { globalBatchSize, seqLength, devices, devicesPerNode: Math.min(devices, 8) };
          const tally = new Map<PlanSpaceRule, number>();
          const combinations = tallyPlanSpaceRules(arch, sp, t, tally);
          const removed = [...tally.values()].reduce((s, n) => s + n, 0);
          const plans = [...enumeratePlans(arch, sp, t)];
          expect((combinations - removed) * sp.recompute.length).toBe(plans.length);
          const why = explainEmptyPlanSpace([arch], sp, t, 8);
          expect(why === undefined).toBe(plans.length > 0);
          if (!why) return;
          expect(why.combinations).toBe(combinations);
          expect(isNearest(globalBatchSize, why.globalBatchSizes, 2 * globalBatchSize, () => true, (g) => hasPlan([arch], sp, { ...t, globalBatchSize: g }))).toBe(true);
          const onCluster = (d: number) => hasPlan([arch], sp, { ...t, devices: d, devicesPerNode: Math.min(d, 8) });
          expect(isNearest(devices, why.devices, Math.max(2 * devices, 16), clusterSize(8), onCluster)).toBe(true);
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });
});

describe('searchTraining with an empty plan space', () => {
  it('explains a search that enumerates nothing, and only that one', () => {
    const none = searchTraining({ archs: [ultra], cluster: parseClusterSpec('atlas-800t-a2:6144'), globalBatchSize: 1024, seqLength: 4096 });
    expect(none.counts.enumerated).toBe(0);
    expect(none.emptyPlanSpace?.globalBatchSizes.above).toBeDefined();
    // Enumerated plans that do not fit in memory are another failure, with nothing to explain here.
    const tooBig = searchTraining({ archs: [ultra], cluster: parseClusterSpec('atlas-800t-a2:8'), globalBatchSize: 16, seqLength: 4096, space: { tp: [8], cp: [1], pp: [1], vpp: [1], ep: [8], microBatchSize: [1], recompute: ['full'] } });
    expect(tooBig.counts.enumerated).toBeGreaterThan(0);
    expect(tooBig.top).toEqual([]);
    expect(tooBig.emptyPlanSpace).toBeUndefined();
  });
});
