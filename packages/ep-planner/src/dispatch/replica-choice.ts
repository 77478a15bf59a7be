import { z } from 'zod';
import type { LayerPlacement } from '../placement/layer-placement';
import type { RoutedTokens } from './routed-tokens';

/**
 * Which replica of an expert a token goes to.
 * - `round-robin`: replicas take turns per expert, in token order, so load splits evenly, which
 *   is what the placement's predicted rank loads assume.
 * - `nearest`: a replica on the token's own rank, else on its node (taking turns), else any
 *   (taking turns): fewer bytes on the links, at the price of a less even split.
 */
export const ReplicaChoiceSchema = z.enum(['round-robin', 'nearest']);
export type ReplicaChoice = z.infer<typeof ReplicaChoiceSchema>;

export interface RankLayout {
  numRanks: number;
  ranksPerNode: number;
  slotsPerRank: number;
}

/**
 * The destination rank of every (token, expert) assignment: out[t·topK + k]. Deterministic: it
 * depends only on the token order, the placement and the choice rule.
 */
export function assignReplicas(tokens: RoutedTokens, layer: LayerPlacement, layout: RankLayout, choice: ReplicaChoice): Int32Array {
  const { topK, sourceRanks, expertIds } = tokens;
  const { ranksPerNode, slotsPerRank } = layout;
  const { logicalToPhysical, logicalOffsets } = layer;
  const numExperts = layer.replicaCounts.length;
  const turn = new Int32Array(numExperts);
  // `nearest` keeps one turn counter per (expert, source node) for on-node picks and `turn` for the
  // rest: with one shared counter, tokens served elsewhere advanced it too, so interleaved sources
  // (a token on node 0, one on node 1, ...) always landed on the same on-node replica.
  const numNodes = Math.ceil(layout.numRanks / ranksPerNode);
  const nodeTurn = choice === 'nearest' ? new Int32Array(numExperts * numNodes) : null;
  const out = new Int32Array(expertIds.length);
  for (let t = 0; t < sourceRanks.length; t++) {
    const src = sourceRanks[t]!;
    const srcNode = (src / ranksPerNode) | 0;
    for (let k = 0; k < topK; k++) {
      const a = t * topK + k;
      const e = expertIds[a]!;
      const first = logicalOffsets[e]!;
      const count = logicalOffsets[e + 1]! - first;
      if (choice === 'round-robin' || count === 1) {
        out[a] = (logicalToPhysical[first + (turn[e]!++ % count)]! / slotsPerRank) | 0;
        continue;
      }
      out[a] = nearestReplicaRank(logicalToPhysical, first, count, src, srcNode, ranksPerNode, slotsPerRank, turn, e, nodeTurn!, e * numNodes + srcNode);
    }
  }
  return out;
}

/** Advances only the counter of the category that picks: none for the own rank, nodeTurn[nodeSlot] on the node, anyTurn[expert] elsewhere. */
function nearestReplicaRank(
  replicas: Int32Array,
  first: number,
  count: number,
  src: number,
  srcNode: number,
  ranksPerNode: number,
  slotsPerRank: number,
  anyTurn: Int32Array,
  expert: number,
  nodeTurn: Int32Array,
  nodeSlot: number,
): number {
  let onNode = 0;
  for (let i = 0; i < count; i++) {
    const rank = (replicas[first + i]! / slotsPerRank) | 0;
    if (rank === src) return rank;
    if (((rank / ranksPerNode) | 0) === srcNode) onNode++;
  }
  if (onNode === 0) return (replicas[first + (anyTurn[expert]!++ % count)]! / slotsPerRank) | 0;
  let pick = nodeTurn[nodeSlot]!++ % onNode;
  for (let i = 0; i < count; i++) {
    const rank = (replicas[first + i]! / slotsPerRank) | 0;
    if (((rank / ranksPerNode) | 0) === srcNode && pick-- === 0) return rank;
  }
  return -1; // unreachable: onNode > 0 replicas were counted above
}
