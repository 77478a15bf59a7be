import { buildLayerPlacement, type LayerPlacement } from '../placement/layer-placement';
import type { PlacementShape } from '../placement/options';

type AlignShape = Pick<PlacementShape, 'numRanks' | 'numNodes' | 'ranksPerNode' | 'numExperts'>;

/**
 * A placement policy decides which experts share a rank, not which rank gets which set: packing
 * numbers its packs in the order it fills them, so a re-placement after a small drift in load can
 * put almost the same sets on other ranks and move almost every expert. Relabelling the ranks of
 * `after` (whole nodes among nodes, then ranks inside a node, so a hierarchical placement stays
 * valid) to keep as many experts where `before` had them leaves every rank load and the max/mean
 * unchanged and cuts the migration.
 *
 * Greedy matching on shared experts (nodes first, then ranks inside each matched pair of nodes),
 * not an optimal assignment: O(R · S · replicas) instead of O(R³), which keeps it cheap at
 * thousands of ranks. The result is kept only when it retains more than `after` as it is, so
 * aligning never moves more than not aligning.
 *
 * `loads` are the loads `after` was built for (they give the returned placement its rankLoads).
 */
export function alignPlacement(before: LayerPlacement, after: LayerPlacement, shape: AlignShape, loads: ArrayLike<number>): LayerPlacement {
  const { numRanks, numNodes, ranksPerNode, numExperts } = shape;
  if (before.replicaCounts.length !== numExperts || after.replicaCounts.length !== numExperts) {
    throw new RangeError(`alignPlacement: placements of ${before.replicaCounts.length} and ${after.replicaCounts.length} experts, expected ${numExperts}`);
  }
  const slotsBefore = before.physicalToLogical.length / numRanks;
  const slotsAfter = after.physicalToLogical.length / numRanks;
  const rankOf = (slots: number, p: number) => (p / slots) | 0;

  // shared[q][r] for the pairs that share anything: distinct experts of new rank q held by old rank r.
  const pairs: { q: number; r: number; shared: number }[] = [];
  const counts = new Int32Array(numRanks);
  const touched: number[] = [];
  const seen = new Int32Array(numExperts).fill(-1);
  for (let q = 0; q < numRanks; q++) {
    for (let j = 0; j < slotsAfter; j++) {
      const e = after.physicalToLogical[q * slotsAfter + j]!;
      if (seen[e] === q) continue; // a second replica on one rank is retained or fetched once
      seen[e] = q;
      let lastRank = -1;
      for (let i = before.logicalOffsets[e]!; i < before.logicalOffsets[e + 1]!; i++) {
        const r = rankOf(slotsBefore, before.logicalToPhysical[i]!);
        if (r === lastRank) continue; // replicas of e on one old rank count once (they are in slot order)
        lastRank = r;
        if (counts[r] === 0) touched.push(r);
        counts[r]! += 1;
      }
    }
    for (const r of touched) {
      pairs.push({ q, r, shared: counts[r]! });
      counts[r] = 0;
    }
    touched.length = 0;
  }
  const byShared = (a: { shared: number; q: number; r: number }, b: { shared: number; q: number; r: number }) =>
    b.shared - a.shared || a.q - b.q || a.r - b.r;

  // Nodes: match new node to old node by the experts their ranks share, greedily.
  const nodeTarget = new Int32Array(numNodes).fill(-1);
  if (numNodes === 1) nodeTarget[0] = 0;
  else {
    const nodeShared = new Map<number, number>();
    for (const { q, r, shared } of pairs) {
      const key = ((q / ranksPerNode) | 0) * numNodes + ((r / ranksPerNode) | 0);
      nodeShared.set(key, (nodeShared.get(key) ?? 0) + shared);
    }
    const nodePairs = [...nodeShared].map(([key, shared]) => ({ q: Math.floor(key / numNodes), r: key % numNodes, shared })).sort(byShared);
    matchGreedy(nodePairs, nodeTarget, numNodes);
  }

  // Ranks: inside each matched pair of nodes, match ranks by shared experts, greedily.
  const rankTarget = new Int32Array(numRanks).fill(-1);
  const oldTaken = new Uint8Array(numRanks);
  pairs.sort(byShared);
  for (const { q, r } of pairs) {
    if (rankTarget[q] !== -1 || oldTaken[r] === 1) continue;
    if (nodeTarget[(q / ranksPerNode) | 0] !== ((r / ranksPerNode) | 0)) continue;
    rankTarget[q] = r;
    oldTaken[r] = 1;
  }
  // Ranks that share nothing with a free old rank of their node take the free ones in order.
  for (let node = 0; node < numNodes; node++) {
    const target = nodeTarget[node]!;
    let free = target * ranksPerNode;
    for (let q = node * ranksPerNode; q < (node + 1) * ranksPerNode; q++) {
      if (rankTarget[q] !== -1) continue;
      while (oldTaken[free] === 1) free++;
      rankTarget[q] = free;
      oldTaken[free] = 1;
    }
  }

  const slots = new Int32Array(after.physicalToLogical.length);
  for (let q = 0; q < numRanks; q++) {
    slots.set(after.physicalToLogical.subarray(q * slotsAfter, (q + 1) * slotsAfter), rankTarget[q]! * slotsAfter);
  }
  const aligned = buildLayerPlacement(slots, numRanks, numExperts, loads);
  return retained(before, aligned, numRanks) > retained(before, after, numRanks) ? aligned : after;
}

/** Assigns every new id an old id: greedily by shared count, then the unmatched ones in order. */
function matchGreedy(pairs: { q: number; r: number }[], target: Int32Array, n: number): void {
  const taken = new Uint8Array(n);
  for (const { q, r } of pairs) {
    if (target[q] !== -1 || taken[r] === 1) continue;
    target[q] = r;
    taken[r] = 1;
  }
  let free = 0;
  for (let q = 0; q < n; q++) {
    if (target[q] !== -1) continue;
    while (taken[free] === 1) free++;
    target[q] = free;
    taken[free] = 1;
  }
}

/** (rank, expert) pairs of `after` that `before` already had on that rank: copies that do not move. */
export function retained(before: LayerPlacement, after: LayerPlacement, numRanks: number): number {
  const slotsBefore = before.physicalToLogical.length / numRanks;
  const slotsAfter = after.physicalToLogical.length / numRanks;
  const holder = new Int32Array(before.replicaCounts.length).fill(-1);
  const counted = new Int32Array(after.replicaCounts.length).fill(-1);
  let kept = 0;
  for (let r = 0; r < numRanks; r++) {
    for (let j = 0; j < slotsBefore; j++) holder[before.physicalToLogical[r * slotsBefore + j]!] = r;
    for (let j = 0; j < slotsAfter; j++) {
      const e = after.physicalToLogical[r * slotsAfter + j]!;
      if (holder[e] === r && counted[e] !== r) kept++;
      counted[e] = r;
    }
  }
  return kept;
}
