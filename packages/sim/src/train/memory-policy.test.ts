import { describe, expect, it } from 'vitest';
import { parseWith, ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { plannedMemoryPolicy } from './memory-policy';
import { simulateTraining } from './simulate';
import { PRO_T1_BEFORE, ULT_T1 } from './validation-cases';

describe('plannedMemoryPolicy (@moge/memory picks recompute/swap for a validation layout)', () => {
  it('keeps everything in memory when the plan fits without recompute (Pangu Pro, TP1 CP8 PP6 VPP4)', () => {
    const plan = parseWith(ParallelPlanSchema, PRO_T1_BEFORE.plan, 'plan');
    const planned = plannedMemoryPolicy(getPreset(PRO_T1_BEFORE.arch), parseClusterSpec(PRO_T1_BEFORE.cluster), plan, PRO_T1_BEFORE.options);
    expect(planned.recompute).toEqual([]);
    expect(planned.swap).toEqual([]);
  });

  it('adds recompute or swap where the bare plan would not fit, and the result fits (Pangu Ultra at micro-batch 4)', () => {
    const arch = getPreset(ULT_T1.arch);
    const cluster = parseClusterSpec(ULT_T1.cluster);
    const bare = parseWith(ParallelPlanSchema, { ...ULT_T1.plan, microBatchSize: 4, recompute: [] }, 'plan');
    expect(simulateTraining({ arch, cluster, plan: bare, options: ULT_T1.options }).fitsInMemory).toBe(false);
    const planned = plannedMemoryPolicy(arch, cluster, bare, ULT_T1.options);
    expect(planned.recompute.length + planned.swap.length).toBeGreaterThan(0);
    expect(simulateTraining({ arch, cluster, plan: planned, options: ULT_T1.options }).fitsInMemory).toBe(true);
  });
});
