import { replicasOf, type LayerPlacement } from './layer-placement';
import type { Placement } from './place';

/** One layer of a placement as plain JSON (typed arrays become arrays). */
export interface LayerPlacementJson {
  layer: number;
  maxOverMean: number;
  rankLoads: number[];
  /** Flat, slot p = rank · slotsPerRank + j. */
  physicalToLogical: number[];
  /** logicalToPhysical[e] = the physical slots holding expert e. */
  logicalToPhysical: number[][];
  replicaCounts: number[];
}

export interface PlacementJson {
  policy: Placement['policy'];
  numExperts: number;
  numRanks: number;
  numNodes: number;
  ranksPerNode: number;
  numGroups: number;
  redundantSlots: number;
  slotsPerRank: number;
  meanMaxOverMean: number;
  layers: LayerPlacementJson[];
}

function layerToJson(layer: LayerPlacement, index: number, numExperts: number): LayerPlacementJson {
  return {
    layer: index,
    maxOverMean: layer.maxOverMean,
    rankLoads: Array.from(layer.rankLoads),
    physicalToLogical: Array.from(layer.physicalToLogical),
    logicalToPhysical: Array.from({ length: numExperts }, (_, e) => Array.from(replicasOf(layer, e))),
    replicaCounts: Array.from(layer.replicaCounts),
  };
}

/** The machine-readable form of a placement (what `moge ep place --json` prints). */
export function placementToJson(placement: Placement): PlacementJson {
  const { policy, numExperts, numRanks, numNodes, ranksPerNode, numGroups, redundantSlots, slotsPerRank } = placement;
  const layers = placement.layers.map((l, i) => layerToJson(l, i, numExperts));
  const meanMaxOverMean = layers.reduce((s, l) => s + l.maxOverMean, 0) / Math.max(1, layers.length);
  return { policy, numExperts, numRanks, numNodes, ranksPerNode, numGroups, redundantSlots, slotsPerRank, meanMaxOverMean, layers };
}
