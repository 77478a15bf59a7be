import { parseWith } from '@moge/core';
import { checkLoadMatrix, type LoadMatrix } from '../loads/load-matrix';
import { layerPlacementOwning, type LayerPlacement } from './layer-placement';
import {
  PlacementOptionsSchema,
  resolvePlacementShape,
  type PlacementOptionsInput,
  type PlacementShape,
  type PlacementPolicy,
} from './options';
import { PolicyScratch, placeEplbGlobal, placeEplbHierarchical, placeGreedy, placeMoge, type LayerPolicy } from './policies';

/** Expert placement of every MoE layer, with the sizes it was computed for. */
export interface Placement extends PlacementShape {
  layers: LayerPlacement[];
}

const POLICIES: Record<PlacementPolicy, LayerPolicy> = {
  moge: placeMoge,
  'eplb-hierarchical': placeEplbHierarchical,
  'eplb-global': placeEplbGlobal,
  greedy: placeGreedy,
};

/**
 * Places the experts of every layer of `loads` on ranks with the chosen policy. Options are
 * validated (ValidationError naming the field) before any work is done, and so are the loads (every
 * row numExperts long, every load finite and ≥ 0; the error names the row and expert).
 */
export function placeExperts(loads: LoadMatrix, options: PlacementOptionsInput): Placement {
  checkLoadMatrix(loads, 'placement loads');
  const shape = resolvePlacementShape(parseWith(PlacementOptionsSchema, options, 'placement options'), loads.numExperts);
  const policy = POLICIES[shape.policy];
  const scratch = new PolicyScratch();
  // Each policy returns fresh slots, which the layer placement takes over.
  const layers = loads.layers.map((layerLoads) =>
    layerPlacementOwning(policy(layerLoads, shape, scratch), shape.numRanks, shape.numExperts, layerLoads),
  );
  return { ...shape, layers };
}

/** Mean over layers of max/mean rank load: one number to compare policies. */
export function meanMaxOverMean(placement: Pick<Placement, 'layers'>): number {
  let sum = 0;
  for (const layer of placement.layers) sum += layer.maxOverMean;
  return placement.layers.length > 0 ? sum / placement.layers.length : 1;
}

/** The node a rank lives on (consecutive ranks share a node). */
export function nodeOfRank(shape: Pick<PlacementShape, 'ranksPerNode'>, rank: number): number {
  return Math.floor(rank / shape.ranksPerNode);
}
