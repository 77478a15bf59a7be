import type { PlacementShape } from './options';
import { IndexHeap } from './index-heap';
import { PackingScratch, packInto, type Packing } from './balanced-packing';
import { SortScratch, sortByWeightDescending } from './weight-order';
import { replicateHottestRoundRobin, replicateInto, type Replication } from './replicate';
import { float64Scratch, int32Scratch } from './scratch';

/**
 * Each policy turns one layer's loads (tokens per logical expert) into a slot assignment:
 * slots[rank · slotsPerRank + j] = logical expert, in a fresh array that `layerPlacementOwning`
 * (buildLayerPlacement without the copy) takes over to derive the rest. `scratch` carries working
 * arrays from one layer to the next (see scratch.ts).
 */
export type LayerPolicy = (loads: Float64Array, shape: PlacementShape, scratch: PolicyScratch) => Int32Array;

/**
 * Working arrays of the policies, reused over the layers of one placeExperts call: the replications
 * and packings a layer compares, and what they are computed in. A replication or packing lives
 * until the next layer, which is all `writePacked` needs. Not for concurrent use.
 */
export class PolicyScratch {
  readonly packing = new PackingScratch();
  /** eplb-hierarchical's packing of groups onto nodes, kept apart: its sizes differ from the ranks'. */
  readonly groupPacking = new PackingScratch();
  groupPlacement = emptyPacking();
  /** greedy's order of the experts (their count differs from the replicas'). */
  readonly expertOrder = new SortScratch();
  /** Two packings: the best so far and the one being tried, which trade places when it wins. */
  best = emptyPacking();
  trial = emptyPacking();
  capped = emptyReplication();
  uncapped = emptyReplication();
  hottest = new IndexHeap(0, 'max');
  replicaLoads: Float64Array = new Float64Array(0);
  groupLoads: Float64Array = new Float64Array(0);
  nodeExperts: Int32Array = new Int32Array(0);
  nodeLoads: Float64Array = new Float64Array(0);
}

function emptyPacking(): Packing {
  return { packOf: new Int32Array(0), slotOf: new Int32Array(0), packWeights: new Float64Array(0), displaced: 0 };
}

function emptyReplication(): Replication {
  return { physicalToLogical: new Int32Array(0), replicaCounts: new Int32Array(0) };
}

/** `packing` if it is sized for numItems items in numPacks packs, else a new one that is. */
function sizedPacking(packing: Packing, numItems: number, numPacks: number): Packing {
  if (packing.packOf.length === numItems && packing.packWeights.length === numPacks) return packing;
  return { packOf: new Int32Array(numItems), slotOf: new Int32Array(numItems), packWeights: new Float64Array(numPacks), displaced: 0 };
}

/** A replication of numLogical experts on numPhysical slots, in the arrays of `replication` where they fit. */
function sizedReplication(replication: Replication, numLogical: number, numPhysical: number): Replication {
  return {
    physicalToLogical: int32Scratch(replication.physicalToLogical, numPhysical),
    replicaCounts: int32Scratch(replication.replicaCounts, numLogical),
  };
}

/** Contiguous MoGE layout: expert e on rank ⌊e / slotsPerRank⌋, so group g lands on device g. */
export const placeMoge: LayerPolicy = (_loads, shape) => {
  const slots = new Int32Array(shape.numPhysical);
  for (let p = 0; p < slots.length; p++) slots[p] = p;
  return slots;
};

/** Load of each physical expert when its logical expert's load splits evenly over the replicas, into `out`. */
function perReplicaLoads(out: Float64Array, loads: ArrayLike<number>, replication: Replication): Float64Array {
  const { physicalToLogical, replicaCounts } = replication;
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

/** Replicas of `loads` and how they pack onto the ranks. */
interface Packed {
  replication: Replication;
  packing: Packing;
}

/**
 * The most balanced of a few packings of `loads` onto `numRanks` ranks: every candidate replication,
 * each packed with balancedPacking's distinct-rank preference and plainly as EPLB does; the first
 * of equally balanced ones wins (candidates in order, distinct before plain). Neither preference is
 * a rule: a second copy on a rank still carries its share of the load, so refusing it can force a
 * heavier rank (9 experts on 9 ranks of 2 slots: 1.27 instead of EPLB's 1.13 max/mean), and a copy
 * beyond one per rank can still let the rank holding it take less of everything else.
 *
 * The result lives in `scratch` until the next call.
 */
function bestPacking(loads: ArrayLike<number>, replications: readonly Replication[], numRanks: number, scratch: PolicyScratch): Packed {
  const numPhysical = replications[0]!.physicalToLogical.length;
  let best = (scratch.best = sizedPacking(scratch.best, numPhysical, numRanks));
  let trial = (scratch.trial = sizedPacking(scratch.trial, numPhysical, numRanks));
  const replicaLoads = (scratch.replicaLoads = float64Scratch(scratch.replicaLoads, numPhysical));
  let bestReplication: Replication | null = null;
  let bestPeak = 0;
  for (const replication of replications) {
    perReplicaLoads(replicaLoads, loads, replication);
    const order = sortByWeightDescending(replicaLoads, scratch.packing);
    for (const keys of [replication.physicalToLogical, undefined]) {
      packInto(trial, replicaLoads, numRanks, keys, order, scratch.packing);
      const peak = maxOf(trial.packWeights);
      const displaced = trial.displaced;
      if (bestReplication === null || peak < bestPeak) {
        [best, trial] = [trial, best];
        bestReplication = replication;
        bestPeak = peak;
      }
      // No item was kept off the lightest rank: the plain packing is the same one.
      if (displaced === 0) break;
    }
  }
  scratch.best = best;
  scratch.trial = trial;
  return { replication: bestReplication!, packing: best };
}

/** True when every count is below `cap`. */
function allBelow(counts: Int32Array, cap: number): boolean {
  for (let e = 0; e < counts.length; e++) if (counts[e]! >= cap) return false;
  return true;
}

function sameCounts(a: Int32Array, b: Int32Array): boolean {
  for (let e = 0; e < a.length; e++) if (a[e] !== b[e]) return false;
  return true;
}

/**
 * replicateExperts capped at one copy per rank, and, where the cap changed anything, EPLB's uncapped
 * rule; in the arrays of `scratch`, until the next call.
 */
function eplbReplications(loads: ArrayLike<number>, numPhysical: number, numRanks: number, scratch: PolicyScratch): Replication[] {
  const n = loads.length;
  if (scratch.hottest.capacity < n) scratch.hottest = new IndexHeap(n, 'max');
  const capped = (scratch.capped = sizedReplication(scratch.capped, n, numPhysical));
  replicateInto(capped, loads, numRanks, scratch.hottest);
  // An expert leaves the choice only on reaching the cap: if none did, EPLB's rule chose the same.
  if (allBelow(capped.replicaCounts, numRanks)) return [capped];
  const uncapped = (scratch.uncapped = sizedReplication(scratch.uncapped, n, numPhysical));
  replicateInto(uncapped, loads, Infinity, scratch.hottest);
  return sameCounts(capped.replicaCounts, uncapped.replicaCounts) ? [capped] : [capped, uncapped];
}

/**
 * Writes replicas packed onto ranks [firstRank, firstRank + numRanks) into `slots`. The replication
 * numbers experts locally: local expert e is logical expert toLogical[toLogicalOffset + e], or e
 * itself without `toLogical`.
 */
function writePacked(slots: Int32Array, packed: Packed, firstRank: number, slotsPerRank: number, toLogical: Int32Array | null = null, toLogicalOffset = 0): void {
  const { replication, packing } = packed;
  for (let q = 0; q < replication.physicalToLogical.length; q++) {
    const rank = firstRank + packing.packOf[q]!;
    const local = replication.physicalToLogical[q]!;
    slots[rank * slotsPerRank + packing.slotOf[q]!] = toLogical ? toLogical[toLogicalOffset + local]! : local;
  }
}

/**
 * DeepSeek EPLB, hierarchical: (1) pack expert groups onto nodes by group load, (2) inside each
 * node replicate its experts into the node's share of physical slots, (3) pack those replicas onto
 * the node's ranks. A token's experts of one group then live in one node, which keeps traffic off
 * the inter-node links.
 */
export const placeEplbHierarchical: LayerPolicy = (loads, shape, scratch) => {
  const { numExperts, numGroups, numNodes, ranksPerNode, numPhysical, slotsPerRank } = shape;
  const groupSize = numExperts / numGroups;
  const groupsPerNode = numGroups / numNodes;
  const expertsPerNode = numExperts / numNodes;
  const physicalPerNode = numPhysical / numNodes;

  const groupLoads = (scratch.groupLoads = float64Scratch(scratch.groupLoads, numGroups)).fill(0);
  for (let e = 0; e < numExperts; e++) groupLoads[(e / groupSize) | 0]! += loads[e]!;
  const groupPacking = (scratch.groupPlacement = sizedPacking(scratch.groupPlacement, numGroups, numNodes));
  packInto(groupPacking, groupLoads, numNodes, undefined, sortByWeightDescending(groupLoads, scratch.groupPacking), scratch.groupPacking);
  // nodeExperts[n · expertsPerNode + i] = the i-th logical expert of node n (groups in packing order).
  const nodeExperts = (scratch.nodeExperts = int32Scratch(scratch.nodeExperts, numExperts));
  for (let g = 0; g < numGroups; g++) {
    const base = (groupPacking.packOf[g]! * groupsPerNode + groupPacking.slotOf[g]!) * groupSize;
    for (let i = 0; i < groupSize; i++) nodeExperts[base + i] = g * groupSize + i;
  }

  const slots = new Int32Array(numPhysical);
  const nodeLoads = (scratch.nodeLoads = float64Scratch(scratch.nodeLoads, expertsPerNode));
  for (let node = 0; node < numNodes; node++) {
    const offset = node * expertsPerNode;
    for (let i = 0; i < expertsPerNode; i++) nodeLoads[i] = loads[nodeExperts[offset + i]!]!;
    const packed = bestPacking(nodeLoads, eplbReplications(nodeLoads, physicalPerNode, ranksPerNode, scratch), ranksPerNode, scratch);
    writePacked(slots, packed, node * ranksPerNode, slotsPerRank, nodeExperts, offset);
  }
  return slots;
};

/** DeepSeek EPLB, global: replicate over all slots of the layer, pack replicas onto every rank. */
export const placeEplbGlobal: LayerPolicy = (loads, shape, scratch) => {
  const slots = new Int32Array(shape.numPhysical);
  const replications = eplbReplications(loads, shape.numPhysical, shape.numRanks, scratch);
  writePacked(slots, bestPacking(loads, replications, shape.numRanks, scratch), 0, shape.slotsPerRank);
  return slots;
};

/** Baseline: naive replication of the hottest experts, then longest-processing-time packing. */
export const placeGreedy: LayerPolicy = (loads, shape, scratch) => {
  const replication = replicateHottestRoundRobin(loads, sortByWeightDescending(loads, scratch.expertOrder), shape.numPhysical);
  const slots = new Int32Array(shape.numPhysical);
  writePacked(slots, bestPacking(loads, [replication], shape.numRanks, scratch), 0, shape.slotsPerRank);
  return slots;
};
