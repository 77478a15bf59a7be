import type { NodeSpec } from '../catalog/schemas';
import { bestOnTier, tierCallOverhead } from './flat';
import type { CollectiveOp, TierCost, TierName } from './schemas';

/**
 * Two-level collectives over `nodes` × `perNode` ranks: the intra-node tier does the wide part,
 * the inter-node tier carries only each node's 1/perNode share (all perNode devices use their own
 * NICs at once). Each phase uses the fastest flat algorithm of its tier.
 */
export function hierarchicalPhases(op: CollectiveOp, node: NodeSpec, nodes: number, perNode: number, bytes: number): TierCost[] {
  const phases: TierCost[] = [];
  const add = (tier: TierName, sub: CollectiveOp, ranks: number, size: number) => {
    if (ranks <= 1) return;
    const best = bestOnTier(sub, ranks, size, tier === 'intra-node' ? node.intraNode : node.interNode);
    phases.push({
      phase: phases.length,
      tier,
      step: `${sub} (${best.algorithm}, ${ranks} ranks)`,
      ranks,
      bytesPerRank: best.shape.bytesPerRank,
      steps: best.shape.steps,
      timeS: best.timeS,
    });
  };
  const shard = bytes / perNode;
  switch (op) {
    case 'all-reduce':
      add('intra-node', 'reduce-scatter', perNode, bytes);
      add('inter-node', 'all-reduce', nodes, shard);
      add('intra-node', 'all-gather', perNode, bytes);
      break;
    case 'all-gather':
      // Each device first gathers its local index's chunks from every node, then the node shares them.
      add('inter-node', 'all-gather', nodes, shard);
      add('intra-node', 'all-gather', perNode, bytes);
      break;
    case 'reduce-scatter':
      add('intra-node', 'reduce-scatter', perNode, bytes);
      add('inter-node', 'reduce-scatter', nodes, shard);
      break;
    case 'broadcast':
      add('inter-node', 'broadcast', nodes, bytes);
      add('intra-node', 'broadcast', perNode, bytes);
      break;
    case 'all-to-all':
      // 2-D all-to-all: regroup inside the node by destination local index, then exchange between
      // same-index peers. The same bytes cross nodes as in the flat one, in fewer, larger messages.
      add('intra-node', 'all-to-all', perNode, bytes);
      add('inter-node', 'all-to-all', nodes, bytes);
      break;
    case 'all-to-allv':
    case 'send-recv':
      throw new Error(`hierarchical ${op} is not modelled`); // callers offer hierarchical only where it applies
  }
  // Each phase was timed as a call of its own; a hierarchical collective is one call (one NCCL/HCCL
  // launch), so the fixed per-call cost is paid once — the larger tier's, on the first phase.
  const overheadOf = (tier: TierName) => tierCallOverhead(tier === 'intra-node' ? node.intraNode : node.interNode);
  const once = Math.max(0, ...phases.map((p) => overheadOf(p.tier)));
  phases.forEach((p, i) => (p.timeS += (i === 0 ? once : 0) - overheadOf(p.tier)));
  return phases;
}
