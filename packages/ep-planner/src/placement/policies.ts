import type { PlacementShape } from './options';
import { balancedPacking, orderByWeightDescending, type Packing } from './balanced-packing';
import { replicateExperts, replicateHottestRoundRobin, type Replication } from './replicate';

/**
 * Each policy turns one layer's loads (tokens per logical expert) into a slot assignment:
 * slots[rank · slotsPerRank + j] = logical expert. `buildLayerPlacement` derives the rest.
 */
export type LayerPolicy = (loads: Float64Array, shape: PlacementShape) => Int32Array;

/** Contiguous MoGE layout: expert e on rank ⌊e / slotsPerRank⌋, so group g lands on device g. */
export const placeMoge: LayerPolicy = (_loads, shape) => {
  const slots = new Int32Array(shape.numPhysical);
  for (let p = 0; p < slots.length; p++) slots[p] = p;
  return slots;
};

/** Load of each physical expert when its logical expert's load splits evenly over the replicas. */
function perReplicaLoads(loads: ArrayLike<number>, replication: Replication): Float64Array {
  const { physicalToLogical, replicaCounts } = replication;
  const out = new Float64Array(physicalToLogical.length);
  for (let q = 0; q < out.length; q++) {
    const e = physicalToLogical[q]!;
    out[q] = loads[e]! / replicaCounts[e]!;
  }
  return out;
}

function maxOf(values: Float64Array): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  return max;
}

/** Replicas of `loads` and how they pack onto the ranks, with the load of the busiest rank. */
interface Packed {
  replication: Replication;
  packing: Packing;
  peak: number;
}

/**
 * The most balanced of a few packings of `loads` onto `numRanks` ranks: every candidate replication,
 * each packed with balancedPacking's distinct-rank preference and plainly as EPLB does; the first
 * of equally balanced ones wins (candidates in order, distinct before plain). Neither preference is
 * a rule: a second copy on a rank still carries its share of the load, so refusing it can force a
 * heavier rank (9 experts on 9 ranks of 2 slots: 1.27 instead of EPLB's 1.13 max/mean), and a copy
 * beyond one per rank can still let the rank holding it take less of everything else.
 */
function bestPacking(loads: ArrayLike<number>, replications: readonly Replication[], numRanks: number): Packed {
  let best: Packed | null = null;
  for (const replication of replications) {
    const replicaLoads = perReplicaLoads(loads, replication);
    const order = orderByWeightDescending(replicaLoads);
    for (const keys of [replication.physicalToLogical, undefined]) {
      const packing = balancedPacking(replicaLoads, numRanks, keys, order);
      const peak = maxOf(packing.packWeights);
      if (best === null || peak < best.peak) best = { replication, packing, peak };
      // No item was kept off the lightest rank: the plain packing is the same one.
      if (packing.displaced === 0) break;
    }
  }
  return best!;
}

/** replicateExperts capped at one copy per rank, and, where the cap changed anything, EPLB's uncapped rule. */
function eplbReplications(loads: ArrayLike<number>, numPhysical: number, numRanks: number): Replication[] {
  const capped = replicateExperts(loads, numPhysical, numRanks);
  // An expert leaves the choice only on reaching the cap: if none did, EPLB's rule chose the same.
  if (capped.replicaCounts.every((c) => c < numRanks)) return [capped];
  const uncapped = replicateExperts(loads, numPhysical);
  const same = capped.replicaCounts.every((c, e) => c === uncapped.replicaCounts[e]);
  return same ? [capped] : [capped, uncapped];
}

/**
 * Writes replicas packed onto ranks [firstRank, firstRank + numRanks) into `slots`; `toLogical`
 * maps the local expert ids of the replication back to global logical ids.
 */
function writePacked(slots: Int32Array, packed: Packed, firstRank: number, slotsPerRank: number, toLogical: (local: number) => number): void {
  const { replication, packing } = packed;
  for (let q = 0; q < replication.physicalToLogical.length; q++) {
    const rank = firstRank + packing.packOf[q]!;
    slots[rank * slotsPerRank + packing.slotOf[q]!] = toLogical(replication.physicalToLogical[q]!);
  }
}

/**
 * DeepSeek EPLB, hierarchical: (1) pack expert groups onto nodes by group load, (2) inside each
 * node replicate its experts into the node's share of physical slots, (3) pack those replicas onto
 * the node's ranks. A token's experts of one group then live in one node, which keeps traffic off
 * the inter-node links.
 */
export const placeEplbHierarchical: LayerPolicy = (loads, shape) => {
  const { numExperts, numGroups, numNodes, ranksPerNode, numPhysical, slotsPerRank } = shape;
  const groupSize = numExperts / numGroups;
  const groupsPerNode = numGroups / numNodes;
  const expertsPerNode = numExperts / numNodes;
  const physicalPerNode = numPhysical / numNodes;

  const groupLoads = new Float64Array(numGroups);
  for (let e = 0; e < numExperts; e++) groupLoads[(e / groupSize) | 0]! += loads[e]!;
  const groupPacking = balancedPacking(groupLoads, numNodes);
  // nodeExperts[n · expertsPerNode + i] = the i-th logical expert of node n (groups in packing order).
  const nodeExperts = new Int32Array(numExperts);
  for (let g = 0; g < numGroups; g++) {
    const base = (groupPacking.packOf[g]! * groupsPerNode + groupPacking.slotOf[g]!) * groupSize;
    for (let i = 0; i < groupSize; i++) nodeExperts[base + i] = g * groupSize + i;
  }

  const slots = new Int32Array(numPhysical);
  const nodeLoads = new Float64Array(expertsPerNode);
  for (let node = 0; node < numNodes; node++) {
    const offset = node * expertsPerNode;
    for (let i = 0; i < expertsPerNode; i++) nodeLoads[i] = loads[nodeExperts[offset + i]!]!;
    const packed = bestPacking(nodeLoads, eplbReplications(nodeLoads, physicalPerNode, ranksPerNode), ranksPerNode);
    writePacked(slots, packed, node * ranksPerNode, slotsPerRank, (i) => nodeExperts[offset + i]!);
  }
  return slots;
};

/** DeepSeek EPLB, global: replicate over all slots of the layer, pack replicas onto every rank. */
export const placeEplbGlobal: LayerPolicy = (loads, shape) => {
  const slots = new Int32Array(shape.numPhysical);
  writePacked(slots, bestPacking(loads, eplbReplications(loads, shape.numPhysical, shape.numRanks), shape.numRanks), 0, shape.slotsPerRank, (e) => e);
  return slots;
};

/** Baseline: naive replication of the hottest experts, then longest-processing-time packing. */
export const placeGreedy: LayerPolicy = (loads, shape) => {
  const replication = replicateHottestRoundRobin(loads, orderByWeightDescending(loads), shape.numPhysical);
  const slots = new Int32Array(shape.numPhysical);
  writePacked(slots, bestPacking(loads, [replication], shape.numRanks), 0, shape.slotsPerRank, (e) => e);
  return slots;
};
