import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { CommCostCache } from '../common/comm-cost';
import { ComputeCostCache } from '../common/op-cost';
import { getSimProfile } from '../common/training-profile';
import { BlockCostMemo } from './block-cost-memo';
import { enumeratePlans, PlanSpaceSchema } from './search-space';
import { prepareTraining, scheduleTraining } from './simulate';

const profile = getSimProfile('ascend-910b-training');

/** Every plan of a small space for `arch` on `devices` NPUs (all recompute policies, CP, VPP, several EP). */
function setting(arch: ReturnType<typeof getPreset>, devices: number) {
  const cluster = parseClusterSpec(`atlas-800t-a2:${devices}`);
  const space = PlanSpaceSchema.parse({ tp: [2, 4, 8], cp: [1, 2], pp: [1, 2, 4], vpp: [1, 2], ep: [4, 8, 16], microBatchSize: [1, 2] });
  const template = { globalBatchSize: 2 * devices, seqLength: 4096, devices, devicesPerNode: cluster.devicesPerNode };
  const plans = [...enumeratePlans(arch, space, template)];
  const caches = () => {
    const compute = new ComputeCostCache(cluster.node.chip, 'bf16', profile.chipEfficiency);
    const comm = new CommCostCache(cluster);
    return { compute, comm, blocks: new BlockCostMemo(compute, comm) };
  };
  return { arch, cluster, plans, caches };
}

const cases = [setting(getPreset('pangu-pro-moe'), 64), setting(getPreset('pangu-ultra-moe'), 256)];

describe('BlockCostMemo', () => {
  it('gives every plan the work and schedule it gets costed alone, in any order of plans (GQA MoGE; MLA with dense layers and MTP)', () => {
    for (const c of cases) expect(c.plans.length).toBeGreaterThan(50);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: cases.length - 1 }).chain((i) => fc.tuple(fc.constant(i), fc.shuffledSubarray(cases[i]!.plans, { minLength: 2, maxLength: 6 }))),
        ([i, plans]) => {
          const c = cases[i]!;
          const shared = c.caches();
          for (const plan of plans) {
            const input = { arch: c.arch, cluster: c.cluster, plan, profile };
            const memoised = prepareTraining(input, shared);
            const alone = prepareTraining(input);
            expect(memoised.work).toEqual(alone.work);
            expect(scheduleTraining(memoised).stepTimeS).toBe(scheduleTraining(alone).stepTimeS);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('reuses a block cost across plans that differ only in PP, VPP and DP', () => {
    const c = cases[0]!;
    const base = c.plans.find((p) => p.pp === 1 && p.vpp === 1)!;
    const other = c.plans.find((p) => p.pp > 1 && p.tp === base.tp && p.cp === base.cp && p.ep === base.ep && p.etp === base.etp && p.microBatchSize === base.microBatchSize && p.recompute.join() === base.recompute.join())!;
    expect(other).toBeDefined();
    const shared = c.caches();
    const moeCost = (plan: typeof base) => prepareTraining({ arch: c.arch, cluster: c.cluster, plan, profile }, shared).work[0]![0]!.blocks.find((b) => b.kind === 'moe')!.cost;
    expect(moeCost(other)).toBe(moeCost(base));
  });

  it('refuses a plan costed with caches it was not made for', () => {
    const c = cases[0]!;
    const { blocks } = c.caches();
    const own = c.caches();
    expect(() => prepareTraining({ arch: c.arch, cluster: c.cluster, plan: c.plans[0]!, profile }, { compute: own.compute, comm: own.comm, blocks })).toThrow(/other compute or communication caches/);
  });
});
