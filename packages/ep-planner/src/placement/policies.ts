import type { PlacementShape } from './options';
import { balancedPacking, orderByWeightDescending } from './balanced-packing';
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

/**
 * Writes replicas packed onto ranks [firstRank, firstRank + numRanks) into `slots`; `toLogical`
 * maps the local expert ids of `replication` back to global logical ids.
 */
function writePacked(
  slots: Int32Array,
  replication: Replication,
  replicaLoads: Float64Array,
  firstRank: number,
  numRanks: number,
  slotsPerRank: number,
  toLogical: (local: number) => number,
): void {
  // Keeping an expert's replicas on distinct ranks is a preference, not a rule: a second copy on a
  // rank still carries its share of the load, so refusing it can force a heavier rank than EPLB's
  // plain packing of the same replicas (9 experts on 9 ranks of 2 slots: 1.27 instead of 1.13 max/mean).
  // The distinct packing is kept unless the plain one has a lighter busiest rank.
  const distinct = balancedPacking(replicaLoads, numRanks, replication.physicalToLogical);
  const plain = balancedPacking(replicaLoads, numRanks);
  const packing = maxOf(plain.packWeights) < maxOf(distinct.packWeights) ? plain : distinct;
  for (let q = 0; q < replicaLoads.length; q++) {
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
    const replication = replicateExperts(nodeLoads, physicalPerNode, ranksPerNode);
    const replicaLoads = perReplicaLoads(nodeLoads, replication);
    writePacked(slots, replication, replicaLoads, node * ranksPerNode, ranksPerNode, slotsPerRank, (i) => nodeExperts[offset + i]!);
  }
  return slots;
};

/** DeepSeek EPLB, global: replicate over all slots of the layer, pack replicas onto every rank. */
export const placeEplbGlobal: LayerPolicy = (loads, shape) => {
  const replication = replicateExperts(loads, shape.numPhysical, shape.numRanks);
  const slots = new Int32Array(shape.numPhysical);
  writePacked(slots, replication, perReplicaLoads(loads, replication), 0, shape.numRanks, shape.slotsPerRank, (e) => e);
  return slots;
};

/** Baseline: naive replication of the hottest experts, then longest-processing-time packing. */
export const placeGreedy: LayerPolicy = (loads, shape) => {
  const replication = replicateHottestRoundRobin(loads, orderByWeightDescending(loads), shape.numPhysical);
  const slots = new Int32Array(shape.numPhysical);
  writePacked(slots, replication, perReplicaLoads(loads, replication), 0, shape.numRanks, shape.slotsPerRank, (e) => e);
  return slots;
};
