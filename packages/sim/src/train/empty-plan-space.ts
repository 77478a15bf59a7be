import type { MoeArch } from '@moge/core';
import { hasMoeLayers } from '@moge/memory';
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
  globalBatchSizes: { below?: number; above?: number };
  /** The nearest device counts below and above the given one with a plan for this global batch: whole nodes when the cluster is, searched up to twice the devices. */
  devices: { below?: number; above?: number };
}

/**
 * Explains a search that enumerates no plan at all (as opposed to plans that do not fit in memory):
 * which of enumeratePlans' rules removed the combinations of `space`, and the nearest global batch
 * sizes and device counts for which it would yield at least one plan for one of `archs`. Returns
 * undefined when the space does have a plan. Each probe stops at its first plan (enumeratePlans is
 * lazy), so this stays well under a second even for thousands of devices.
 */
export function explainEmptyPlanSpace(archs: readonly MoeArch[], space: PlanSpace, t: PlanTemplate): EmptyPlanSpaceExplanation | undefined {
  const hasPlan = (probe: PlanTemplate) => archs.some((arch) => !enumeratePlans(arch, space, probe).next().done);
  if (hasPlan(t)) return undefined;

  const tally = new Map<PlanSpaceRule, number>();
  let combinations = 0;
  for (const arch of archs) combinations += tallyPlanSpaceRules(arch, space, t, tally);
  const eliminatedBy = (Object.keys(PLAN_SPACE_RULES) as PlanSpaceRule[])
    .filter((rule) => tally.has(rule))
    .map((rule) => ({ rule, requires: PLAN_SPACE_RULES[rule], combinations: tally.get(rule)! }));
  const mostEliminating = eliminatedBy.reduce((a, b) => (b.combinations > a.combinations ? b : a)).rule;

  const nodeStep = t.devices % t.devicesPerNode === 0 ? t.devicesPerNode : 1;
  return {
    combinations,
    eliminatedBy,
    mostEliminating,
    globalBatchSizes: nearest(t.globalBatchSize, 1, 2 * t.globalBatchSize, (globalBatchSize) => hasPlan({ ...t, globalBatchSize })),
    devices: nearest(t.devices, nodeStep, 2 * t.devices, (devices) => hasPlan({ ...t, devices })),
  };
}

/** The nearest multiples of `step` either side of `from` (within step … max) that `ok` accepts. */
function nearest(from: number, step: number, max: number, ok: (n: number) => boolean): { below?: number; above?: number } {
  const out: { below?: number; above?: number } = {};
  for (let n = from - step; n >= step; n -= step) {
    if (ok(n)) {
      out.below = n;
      break;
    }
  }
  for (let n = from + step; n <= max; n += step) {
    if (ok(n)) {
      out.above = n;
      break;
    }
  }
  return out;
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
  const charge = (rule: PlanSpaceRule | undefined, n: number) => {
    if (rule) tally.set(rule, (tally.get(rule) ?? 0) + n);
    return rule !== undefined;
  };
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
