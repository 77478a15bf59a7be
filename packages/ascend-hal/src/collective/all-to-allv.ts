import type { Cluster, LinkTier } from '../catalog/schemas';
import type { GroupLayout } from './estimate';
import { peerBandwidth, tierBandwidth, tierCallOverhead } from './flat';
import type { TierCost } from './schemas';

/** The largest send buffer of any rank (self chunk included), the `bytes` of an all-to-allv. */
export function matrixSendBytes(matrix: readonly (readonly number[])[]): number {
  let max = 0;
  for (const row of matrix) {
    let sum = 0;
    for (const b of row) sum += b;
    max = Math.max(max, sum);
  }
  return max;
}

/** Max of a long array without spreading it into arguments (n² pairs can exceed the stack). */
function maxOf(values: readonly number[]): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}

/**
 * Time a tier needs for the pairs of one all-to-allv that use it. On a full mesh every pair has its
 * own link, so the largest single pair sets the pace; on a switch or PCIe tree a device's port is
 * shared, so the largest per-device total (sent or received) does.
 */
function tierTime(tier: LinkTier, peers: number, pairBytes: readonly number[], sent: readonly number[], received: readonly number[]): number {
  if (tier.topology === 'full-mesh') {
    const perPair = peerBandwidth(tier, peers) / Math.max(peers, 1);
    return maxOf(pairBytes) / perPair;
  }
  return Math.max(maxOf(sent), maxOf(received)) / tierBandwidth(tier);
}

/**
 * All-to-allv with a per-pair byte matrix (`matrix[i][j]` = bytes rank i sends to rank j), sent
 * directly: every rank sends to all peers at once, local and remote shares over their own tiers,
 * so the slowest tier of the most loaded rank sets the time. Self chunks stay in place.
 */
export function allToAllvPhases(cluster: Cluster, matrix: readonly (readonly number[])[], layout: GroupLayout): TierCost[] {
  const n = layout.ranks;
  const nodeOf = (r: number) => Math.floor(r / layout.perNode);
  const intra = { pairs: [] as number[], sent: new Array<number>(n).fill(0), received: new Array<number>(n).fill(0) };
  const inter = { pairs: [] as number[], sent: new Array<number>(n).fill(0), received: new Array<number>(n).fill(0) };
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const b = matrix[i][j];
      const side = nodeOf(i) === nodeOf(j) ? intra : inter;
      side.pairs.push(b);
      side.sent[i] += b;
      side.received[j] += b;
    }
  }
  const { intraNode, interNode } = cluster.node;
  const latency = layout.nodes > 1 ? Math.max(intraNode.latencyS.value, interNode.latencyS.value) : intraNode.latencyS.value;
  const intraS = tierTime(intraNode, layout.perNode - 1, intra.pairs, intra.sent, intra.received);
  const interS = layout.nodes > 1 ? tierTime(interNode, n - layout.perNode, inter.pairs, inter.sent, inter.received) : 0;
  const overhead = layout.nodes > 1 ? Math.max(tierCallOverhead(intraNode), tierCallOverhead(interNode)) : tierCallOverhead(intraNode);
  const timeS = overhead + latency + Math.max(intraS, interS);
  const step = `all-to-allv (direct, ${n} ranks)`;
  const phases: TierCost[] = [];
  if (layout.perNode > 1) phases.push({ phase: 0, tier: 'intra-node', step, ranks: n, bytesPerRank: maxOf(intra.sent), steps: 1, timeS });
  if (layout.nodes > 1) phases.push({ phase: 0, tier: 'inter-node', step, ranks: n, bytesPerRank: maxOf(inter.sent), steps: 1, timeS });
  return phases;
}
