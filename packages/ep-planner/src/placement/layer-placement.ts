import { maxOverMean } from '@moge/core';

/**
 * The placement of one MoE layer: which logical expert every physical slot holds, the inverse map,
 * replica counts and the load each rank is predicted to carry. Every policy produces its slots and
 * hands them to `buildLayerPlacement`, so the derived maps are computed (and checked) in one place.
 */
export interface LayerPlacement {
  /** Slot p = rank · slotsPerRank + j holds logical expert physicalToLogical[p]; slots of a rank are sorted by expert id. */
  physicalToLogical: Int32Array;
  /**
   * Logical → physical in CSR form: the replicas of expert e are
   * logicalToPhysical[logicalOffsets[e] .. logicalOffsets[e + 1]), ascending.
   */
  logicalToPhysical: Int32Array;
  logicalOffsets: Int32Array;
  /** replicaCounts[e] = number of slots holding logical expert e (≥ 1). */
  replicaCounts: Int32Array;
  /** Predicted tokens per rank, an expert's load split evenly over its replicas. */
  rankLoads: Float64Array;
  /** max / mean of rankLoads (`maxOverMean` of `@moge/core`): 1 is perfect balance, also when every load is 0. */
  maxOverMean: number;
}

/**
 * max / mean of a load vector; 1 when every load is 0, since nothing is then imbalanced. The one
 * definition in `@moge/core`, which `@moge/router`'s balance metrics use too.
 */
export { maxOverMean };

/** Load per rank when `loads` (tokens per logical expert) split evenly over the replicas of `placement`. */
export function rankLoadsUnder(
  placement: Pick<LayerPlacement, 'physicalToLogical' | 'replicaCounts'>,
  numRanks: number,
  loads: ArrayLike<number>,
): Float64Array {
  const slots = placement.physicalToLogical;
  const slotsPerRank = slots.length / numRanks;
  const counts = placement.replicaCounts;
  const out = new Float64Array(numRanks);
  // Rank by rank: no division per slot to find its rank (this runs for every placed layer).
  for (let r = 0, p = 0; r < numRanks; r++) {
    let load = 0;
    for (let j = 0; j < slotsPerRank; j++, p++) {
      const e = slots[p]!;
      load += loads[e]! / counts[e]!;
    }
    out[r] = load;
  }
  return out;
}

/**
 * Builds the derived maps from a slot assignment. Throws if a logical expert has no replica or an
 * id is out of range, because a placement like that would drop tokens.
 */
export function buildLayerPlacement(
  slots: Int32Array,
  numRanks: number,
  numExperts: number,
  loads: ArrayLike<number>,
): LayerPlacement {
  if (slots.length % numRanks !== 0) {
    throw new RangeError(`buildLayerPlacement: ${slots.length} slots do not split evenly over ${numRanks} ranks`);
  }
  return layerPlacementOwning(new Int32Array(slots), numRanks, numExperts, loads);
}

/**
 * buildLayerPlacement for a caller that hands over `slots` (a fresh array it will not touch again):
 * they become the placement's physicalToLogical, sorted in place, which saves a copy per layer.
 * slots.length must be a multiple of numRanks.
 */
export function layerPlacementOwning(slots: Int32Array, numRanks: number, numExperts: number, loads: ArrayLike<number>): LayerPlacement {
  const slotsPerRank = slots.length / numRanks;
  // Canonical order inside a rank (by expert id): the order of packing carries no meaning, and a
  // canonical form makes placements comparable and the output deterministic.
  const physicalToLogical = slots;
  for (let r = 0; r < numRanks; r++) sortRange(physicalToLogical, r * slotsPerRank, (r + 1) * slotsPerRank);
  const replicaCounts = new Int32Array(numExperts);
  for (let p = 0; p < physicalToLogical.length; p++) {
    const e = physicalToLogical[p]!;
    if (e < 0 || e >= numExperts) throw new RangeError(`buildLayerPlacement: slot ${p} holds expert ${e}, outside [0, ${numExperts})`);
    replicaCounts[e]!++;
  }
  // logicalOffsets[e + 1] starts as the first index of expert e and serves as its cursor while the
  // slots are listed; it ends one past e's last replica, which is its final value (no cursor copy).
  const logicalOffsets = new Int32Array(numExperts + 1);
  let start = 0;
  for (let e = 0; e < numExperts; e++) {
    if (replicaCounts[e] === 0) throw new RangeError(`buildLayerPlacement: logical expert ${e} has no replica`);
    logicalOffsets[e + 1] = start;
    start += replicaCounts[e]!;
  }
  const logicalToPhysical = new Int32Array(physicalToLogical.length);
  for (let p = 0; p < physicalToLogical.length; p++) logicalToPhysical[logicalOffsets[physicalToLogical[p]! + 1]!++] = p;
  const rankLoads = rankLoadsUnder({ physicalToLogical, replicaCounts }, numRanks, loads);
  return { physicalToLogical, logicalToPhysical, logicalOffsets, replicaCounts, rankLoads, maxOverMean: maxOverMean(rankLoads) };
}

/**
 * Sorts a[lo, hi) ascending. A rank holds a handful of slots, where an inline insertion sort beats
 * a `subarray().sort()` per rank (an object and a native call each, thousands of ranks per layer).
 */
function sortRange(a: Int32Array, lo: number, hi: number): void {
  if (hi - lo > 32) {
    a.subarray(lo, hi).sort();
    return;
  }
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** Physical slots holding logical expert `expert` (a view, not a copy). */
export function replicasOf(layer: LayerPlacement, expert: number): Int32Array {
  return layer.logicalToPhysical.subarray(layer.logicalOffsets[expert]!, layer.logicalOffsets[expert + 1]!);
}
