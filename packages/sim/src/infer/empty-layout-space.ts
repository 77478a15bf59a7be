import type { MoeArch } from '@moge/core';
import { nearestClusterSizes, type NearestSizes } from '../common/nearest';
import { chargeRule, rulesThatEliminated } from '../common/rule-tally';
import { attentionTpRule, divisors, enumerateInferenceLayouts, expertLayoutRule, expertTpOptions, INFERENCE_LAYOUT_RULES, type InferenceLayoutRule, type InferenceServer } from './search-space';

/** Why the inference search has no serving layout to simulate on a server, and what sizes would. */
export interface EmptyLayoutSpaceExplanation {
  /** Attention TP × expert TP combinations looked at, over every architecture. */
  combinations: number;
  /** The rules that removed them, each counting the combinations it was the first to fail, in the order enumerateInferenceLayouts checks them. */
  eliminatedBy: { rule: InferenceLayoutRule; requires: string; combinations: number }[];
  /** The nearest device counts below and above with a layout for one of the architectures (part of one node or whole nodes, up to twice the devices or two nodes). */
  devices: NearestSizes;
}

/**
 * Explains an inference search that had no layout to simulate — so that no TPOT cap or prompt length
 * was ever what failed: which of enumerateInferenceLayouts' rules removed the attention-TP × expert-TP
 * combinations, and the nearest device counts with a layout, among clusters that can exist (part of one
 * node of `nodeDevices`, cluster.node.devicesPerNode, or whole nodes). Undefined when some architecture has one.
 */
export function explainEmptyLayoutSpace(archs: readonly MoeArch[], server: InferenceServer, nodeDevices = server.devicesPerNode): EmptyLayoutSpaceExplanation | undefined {
  const hasLayout = (s: InferenceServer) => archs.some((arch) => enumerateInferenceLayouts(arch, s).length > 0);
  if (hasLayout(server)) return undefined;
  const tally = new Map<InferenceLayoutRule, number>();
  const charge = (rule: InferenceLayoutRule, n: number) => chargeRule(tally, rule, n);
  let combinations = 0;
  for (const arch of archs) {
    const etps = expertTpOptions(arch);
    for (const tp of divisors(server.numDevices)) {
      combinations += etps.length;
      const tpRule = attentionTpRule(arch, tp, server);
      if (tpRule) {
        charge(tpRule, etps.length);
        continue;
      }
      // A combination every check passes was refused by the ParallelPlan schema (no layout came out).
      for (const etp of etps) charge(expertLayoutRule(arch, server.numDevices, etp) ?? 'plan-valid', 1);
    }
  }
  return {
    combinations,
    eliminatedBy: rulesThatEliminated(tally, INFERENCE_LAYOUT_RULES),
    devices: nearestClusterSizes(server.numDevices, nodeDevices, (numDevices, devicesPerNode) => hasLayout({ numDevices, devicesPerNode })),
  };
}
