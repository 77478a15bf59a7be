import type { MoeArch, ParallelPlan } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { deviceMemoryBytes, hostLinkOf, peakCostRatesOf, planMemory } from '@moge/memory';
import type { SimProfile } from '../common/training-profile';
import { prepareTraining } from './simulate';
import type { TrainingSimOptionsInput } from './options';

/**
 * `plan` with the recompute/swap policy @moge/memory's planner picks for it: the one that adds the
 * least step time among those whose peak fits the device, under the same expert-load imbalance and
 * memory reserve the simulator uses. Comparing two layouts this way applies one rule to both
 * instead of a per-case setting. A plan that fits nowhere keeps the planner's smallest policy (and
 * the simulator then reports it as not fitting).
 */
export function plannedMemoryPolicy(arch: MoeArch, cluster: Cluster, plan: ParallelPlan, options: TrainingSimOptionsInput, profile?: SimProfile): ParallelPlan {
  const base = { ...plan, recompute: [], swap: [] };
  // The load factor the simulator derives for this plan (deferred memory: nothing is estimated twice).
  const prep = prepareTraining({ arch, cluster, plan: base, options, ...(profile ? { profile } : {}) }, undefined, { deferMemory: true });
  const result = planMemory(arch, base, deviceMemoryBytes(cluster), {
    rates: peakCostRatesOf(cluster),
    loadImbalanceFactor: prep.loadFactor,
    hostLink: hostLinkOf(cluster.node),
    frameworkOverheadBytes: prep.profile.deviceMemoryReserveBytes?.value ?? 0,
    activationOverheadFactor: prep.profile.activationMemoryFactor?.value ?? 1,
  });
  return result.plan;
}
