import { estimateCollective, estimateHierarchicalAllToAll, type Cluster } from '@moge/ascend-hal';
import type { GroupLayout } from './group-layout';
import type { CollectiveOp, ExpertExchangeOp } from './ops';

/** How expert-parallel tokens travel: straight to every expert's rank, or once per node first (Pangu Ultra). */
export type DispatchAlgorithm = 'flat' | 'hierarchical';

/**
 * The ranks of the even group the collective models cost in place of `group`. Ranks fill nodes in
 * order, so a group whose size its per-node count does not divide is uneven (dp 3 at stride 2 on
 * 8-device nodes: 4 ranks on one node, 2 on the next), and ascend-hal's models take only even
 * groups. It is costed with every node as full as its fullest one: the same nodes and the same
 * busiest links, a few ranks more — slightly pessimistic, where it used to be an error from inside
 * the collective model for a plan Megatron runs.
 */
export function evenRanks(group: GroupLayout): number {
  return Math.ceil(group.size / group.ranksPerNode) * group.ranksPerNode;
}

/**
 * Times of communication ops from the @moge/ascend-hal collective model, cached by shape. The group
 * layout (how many of a group's ranks share a node) decides which link tier carries the traffic.
 */
export class CommCostCache {
  private readonly cache = new Map<string, number>();
  constructor(readonly cluster: Cluster) {}

  collective(op: CollectiveOp, group: GroupLayout): number {
    if (group.size <= 1 || op.bytes === 0) return 0;
    if (op.op === 'send-recv') return (op.steps ?? 1) * this.ringStep(op.bytes, group);
    const key = `c:${op.op}:${op.bytes}:${group.size}:${group.ranksPerNode}`;
    let t = this.cache.get(key);
    if (t === undefined) {
      t = estimateCollective(this.cluster, { op: op.op, bytes: op.bytes, ranks: evenRanks(group), ranksPerNode: group.ranksPerNode }).timeS;
      this.cache.set(key, t);
    }
    return t;
  }

  /**
   * One expert-parallel exchange (dispatch or combine; their backward passes move the same bytes).
   * `loadFactor` scales the busiest rank's receive side: it finishes last, so it sets the time.
   */
  expertExchange(op: ExpertExchangeOp, group: GroupLayout, algorithm: DispatchAlgorithm, loadFactor: number): number {
    if (group.size <= 1) return 0;
    const bytes = op.tokens * op.topK * op.hiddenBytes * loadFactor;
    const key = `x:${algorithm}:${bytes}:${op.numExperts}:${op.topK}:${op.hiddenBytes}:${group.size}:${group.ranksPerNode}`;
    let t = this.cache.get(key);
    if (t === undefined) {
      t =
        algorithm === 'flat' || group.ranksPerNode >= group.size
          ? estimateCollective(this.cluster, { op: 'all-to-all', bytes, ranks: evenRanks(group), ranksPerNode: group.ranksPerNode }).timeS
          : estimateHierarchicalAllToAll(this.cluster, {
              tokensPerRank: Math.round(op.tokens * loadFactor),
              bytesPerToken: op.hiddenBytes,
              topK: op.topK,
              // The same experts per rank on the even stand-in (ep divides the experts).
              numExperts: (op.numExperts / group.size) * evenRanks(group),
              ranks: evenRanks(group),
              ranksPerNode: group.ranksPerNode,
            }).timeS;
      this.cache.set(key, t);
    }
    return t;
  }

  /**
   * One step of a ring over `group`: every rank sends `bytes` to the next and receives as much from
   * the previous at once. On a full mesh each neighbour pair has one link of its own (a seventh of an
   * HCCS device's bandwidth), and a ring that spans nodes is paced by its hops over the scale-out link.
   */
  ringStep(bytes: number, group: GroupLayout): number {
    if (group.size <= 1) return 0;
    return this.sendRecv(bytes, group.ranksPerNode < group.size);
  }

  /** Point-to-point send of `bytes` between pipeline neighbours (on another node when `crossNode`). */
  sendRecv(bytes: number, crossNode: boolean): number {
    if (bytes === 0) return 0;
    const key = `p:${bytes}:${crossNode}`;
    let t = this.cache.get(key);
    if (t === undefined) {
      t = estimateCollective(this.cluster, { op: 'send-recv', bytes, ranks: 2, ranksPerNode: crossNode ? 1 : 2 }).timeS;
      this.cache.set(key, t);
    }
    return t;
  }
}
