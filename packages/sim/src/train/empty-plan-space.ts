import type { MoeArch } from '@moge/core';
import { hasMoeLayers } from '@moge/memory';
import { nearestClusterSizes, nearestSizes, type NearestSizes } from '../common/nearest';
import { chargeRule, rulesThatEliminated } from '../common/rule-tally';
import { batchRule, cpRule, expertRule, PLAN_SPACE_RULES, ppRule, tpRule, vppRule, type PlanSpaceRule, type PlanTemplate } from './plan-space-rules';
import { enumeratePlans, type PlanSpace } from './search-space';

/** Why a plan space holds no plan for a batch on a cluster, and what would give it one. */
export interface EmptyPlanSpaceExplanation {
  /** Combinations of tp × cp × pp × vpp × micro-batch size × ep × etp looked at (recompute aside), over every architecture. */
  combinations: number;
  /**
   * The rules that removed them, each counting the combinations it was the first to fail, in the order
   * enumeratePlans checks them: the last entry removed all that the earlier rules had left.
   */
  eliminatedBy: { rule: PlanSpaceRule; requires: string; combinations: number }[];
  /** The rule that removed the most combinations. */
  mostEliminating: PlanSpaceRule;
  /** The nearest global batch sizes below and above the given one with a plan on these devices (searched down to 1 and up to twice the batch). */
  globalBatchSizes: NearestSizes;
  /** The nearest device counts below and above the given one with a plan for this global batch: part of one node or whole nodes, searched up to twice the devices (or two nodes). */
  devices: NearestSizes;
}

/**
 * Explains a search that enumerates no plan at all (as opposed to plans that do not fit in memory):
 * which of enumeratePlans' rules removed the combinations of `space`, and the nearest global batch
 * sizes and device counts for which it would yield at least one plan for one of `archs`. Returns
 * undefined when the space does have a plan. `nodeDevices` is what a whole node holds
 * (cluster.node.devicesPerNode): the device counts suggested are clusters that can exist, part of one
 * node or whole nodes. Each probe stops at its first plan (enumeratePlans is
 * lazy), so this stays well under a second even for thousands of devices.
 */
export function explainEmptyPlanSpace(archs: readonly MoeArch[], space: PlanSpace, t: PlanTemplate, nodeDevices = t.devicesPerNode): EmptyPlanSpaceExplanation | undefined {
  const hasPlan = (probe: PlanTemplate) => archs.some((arch) => !enumeratePlans(arch, space, probe).next().done);
  if (hasPlan(t)) return undefined;

  const tally = new Map<PlanSpaceRule, number>();
  let combinations = 0;
  for (const arch of archs) combinations += tallyPlanSpaceRules(arch, space, t, tally);
  const eliminatedBy = rulesThatEliminated(tally, PLAN_SPACE_RULES);
  const mostEliminating = eliminatedBy.reduce((a, b) => (b.combinations > a.combinations ? b : a)).rule;

  return {
    combinations,
    eliminatedBy,
    mostEliminating,
    globalBatchSizes: nearestSizes(t.globalBatchSize, 2 * t.globalBatchSize, (globalBatchSize) => hasPlan({ ...t, globalBatchSize })),
    devices: nearestClusterSizes(t.devices, nodeDevices, (devices, devicesPerNode) => hasPlan({ ...t, devices, devicesPerNode })),
  };
}

/**
 * Walks enumeratePlans' nest with the same checks, charging each failed check with every combination
 * of the inner dimensions it cuts off. Returns the combinations of this architecture; those no rule
 * removed are the plans enumeratePlans yields, once per recompute policy.
 */
export function tallyPlanSpaceRules(arch: MoeArch, space: PlanSpace, t: PlanTemplate, tally: Map<PlanSpaceRule, number>): number {
  const moe = hasMoeLayers(arch);
  const eps = moe ? space.ep : [1];
  const etps = moe ? space.etp : [1];
  const perMbs = eps.length * etps.length;
  const perVpp = space.microBatchSize.length * perMbs;
  const perPp = space.vpp.length * perVpp;
  const perCp = space.pp.length * perPp;
  const perTp = space.cp.length * perCp;
  const charge = (rule: PlanSpaceRule | undefined, n: number) => chargeRule(tally, rule, n);
  for (const tp of space.tp) {
    if (charge(tpRule(arch, tp, t), perTp)) continue;
    for (const cp of space.cp) {
      if (charge(cpRule(tp, cp, t), perCp)) continue;
      for (const pp of space.pp) {
        if (charge(ppRule(arch, tp, cp, pp, t), perPp)) continue;
        const dp = t.devices / (tp * cp * pp);
        for (const vpp of space.vpp) {
          if (charge(vppRule(arch, pp, vpp, space.maxNoopLayers), perVpp)) continue;
          for (const mbs of space.microBatchSize) {
            if (charge(batchRule(pp, vpp, dp, mbs, t), perMbs)) continue;
            for (const ep of eps) for (const etp of etps) charge(expertRule(arch, moe, tp * cp * dp, ep, etp), 1);
          }
        }
      }
    }
  }
  return space.tp.length * perTp;
}
