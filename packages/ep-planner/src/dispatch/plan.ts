import { z } from 'zod';
import { parseWith, ValidationError } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import type { Placement } from '../placement/place';
import { assignReplicas, ReplicaChoiceSchema } from './replica-choice';
import { checkRoutedTokens, type RoutedTokens } from './routed-tokens';
import { expertAssignmentsPerRank, flatTraffic, hierarchicalTraffic, type FlatTraffic, type HierarchicalTraffic } from './traffic';
import { flatDispatchCost, hierarchicalDispatchCost, type PlanCost } from './cost';

export const DispatchOptionsSchema = z.object({
  /** Bytes of one token's hidden state as sent (hidden size × bytes of the dispatch dtype). */
  tokenBytes: z.number().finite().positive(),
  replicaChoice: ReplicaChoiceSchema.default('round-robin'),
});
export type DispatchOptionsInput = z.input<typeof DispatchOptionsSchema>;

export type DispatchKind = 'flat' | 'hierarchical';

/** How one MoE layer's tokens reach their experts, both ways of moving them, and which is cheaper. */
export interface DispatchPlan {
  /** Destination rank of every (token, expert) assignment: destRanks[t · topK + k]. */
  destRanks: Int32Array;
  /** Token copies each rank sends to other ranks (one per distinct destination rank). */
  sendCounts: Float64Array;
  /** Token copies each rank receives from other ranks. */
  recvCounts: Float64Array;
  /** (token, expert) assignments each rank computes: its expert load. */
  expertLoads: Float64Array;
  flat: { traffic: FlatTraffic; cost: PlanCost };
  hierarchical: { traffic: HierarchicalTraffic; cost: PlanCost };
  /** The cheaper plan on this cluster (flat on ties: one stage, less to go wrong). */
  chosen: DispatchKind;
  timeS: number;
}

/** The placement's rank layout must fit the cluster's nodes, or the tier of a pair would be wrong. */
function checkFits(cluster: Cluster, placement: Placement): void {
  const issues = [];
  if (placement.ranksPerNode > cluster.devicesPerNode) {
    issues.push({ path: 'placement.ranksPerNode', received: placement.ranksPerNode, expected: `at most the ${cluster.devicesPerNode} devices per node of ${cluster.name}` });
  }
  if (placement.numNodes > cluster.numNodes) {
    issues.push({ path: 'placement.numNodes', received: placement.numNodes, expected: `at most the ${cluster.numNodes} nodes of ${cluster.name}` });
  }
  if (issues.length > 0) throw new ValidationError('dispatch plan', issues);
}

/**
 * Plans the dispatch of one MoE layer: picks a replica for every (token, expert), counts what every
 * rank sends and receives, builds the flat all-to-all and the hierarchical plan (each token crosses
 * to a remote node once, then an intra-node all-to-all), times both with the ascend-hal collective
 * model and chooses the cheaper. Deterministic. The combine step moves the same bytes back.
 */
export function planDispatch(cluster: Cluster, placement: Placement, layer: number, tokens: RoutedTokens, optionsInput: DispatchOptionsInput): DispatchPlan {
  const options = parseWith(DispatchOptionsSchema, optionsInput, 'dispatch options');
  const layerPlacement = placement.layers[layer];
  if (!layerPlacement) throw new ValidationError('dispatch plan', [{ path: 'layer', received: layer, expected: `a layer in [0, ${placement.layers.length})` }]);
  checkFits(cluster, placement);
  checkRoutedTokens(tokens, placement.numRanks, placement.numExperts, 'dispatch tokens');
  const destRanks = assignReplicas(tokens, layerPlacement, placement, options.replicaChoice);
  const flat = flatTraffic(tokens.sourceRanks, destRanks, tokens.topK, placement);
  const hier = hierarchicalTraffic(tokens.sourceRanks, destRanks, tokens.topK, placement);
  const flatCost = flatDispatchCost(cluster, flat, placement, options.tokenBytes);
  const hierCost = hierarchicalDispatchCost(cluster, hier, placement, options.tokenBytes);
  const chosen: DispatchKind = hierCost.timeS < flatCost.timeS ? 'hierarchical' : 'flat';
  const sendCounts = new Float64Array(placement.numRanks);
  const recvCounts = new Float64Array(placement.numRanks);
  for (let r = 0; r < placement.numRanks; r++) {
    sendCounts[r] = flat.intraNode.sendTokens[r]! + flat.interNode.sendTokens[r]!;
    recvCounts[r] = flat.intraNode.recvTokens[r]! + flat.interNode.recvTokens[r]!;
  }
  return {
    destRanks,
    sendCounts,
    recvCounts,
    expertLoads: expertAssignmentsPerRank(destRanks, placement.numRanks),
    flat: { traffic: flat, cost: flatCost },
    hierarchical: { traffic: hier, cost: hierCost },
    chosen,
    timeS: Math.min(flatCost.timeS, hierCost.timeS),
  };
}
