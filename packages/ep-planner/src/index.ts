// Public API of @moge/ep-planner: expert placement, dynamic rebalancing and dispatch plans.

// Loads
export { LoadsFileSchema, parseLoadsFile, loadMatrixFromRows, checkLoadMatrix, type LoadMatrix, type LoadsFile } from './loads/load-matrix';
export { zipfLoads, type ZipfLoadOptions } from './loads/zipf';

// Placement
export {
  PlacementPolicySchema,
  PlacementOptionsSchema,
  resolvePlacementShape,
  type PlacementPolicy,
  type PlacementOptions,
  type PlacementOptionsInput,
  type PlacementShape,
} from './placement/options';
export { balancedPacking, orderByWeightDescending, type Packing } from './placement/balanced-packing';
export { replicateExperts, replicateHottestRoundRobin, type Replication } from './placement/replicate';
export { buildLayerPlacement, rankLoadsUnder, replicasOf, maxOverMean, type LayerPlacement } from './placement/layer-placement';
export { placeExperts, meanMaxOverMean, nodeOfRank, type Placement } from './placement/place';
export { placementToJson, type PlacementJson, type LayerPlacementJson } from './placement/to-json';

// Dispatch
export { RoutedTokensSchema, routedTokensFrom, checkRoutedTokens, type RoutedTokens } from './dispatch/routed-tokens';
export { ReplicaChoiceSchema, assignReplicas, type ReplicaChoice, type RankLayout } from './dispatch/replica-choice';
export {
  flatTraffic,
  hierarchicalTraffic,
  expertAssignmentsPerRank,
  type TierTraffic,
  type DispatchTraffic,
  type FlatTraffic,
  type HierarchicalTraffic,
} from './dispatch/traffic';
export { flatDispatchCost, hierarchicalDispatchCost, type PlanCost, type StageCost } from './dispatch/cost';
export { planDispatch, DispatchOptionsSchema, type DispatchOptionsInput, type DispatchPlan, type DispatchKind } from './dispatch/plan';

// Rebalancing
export { EmaLoadPredictor } from './rebalance/ema';
export {
  migrationBetween,
  mergeMigrations,
  type ExpertStateBytes,
  type ExpertTransfer,
  type LayerMigration,
  type TierBytes,
} from './rebalance/migration';
export { expertStateBytes, type ExpertStateOptions } from './rebalance/expert-bytes';
export { estimateMigrationTime } from './rebalance/migration-cost';
export { alignPlacement, retained } from './rebalance/align';
export { refinePlacement, type RefineOptions, type Refinement } from './rebalance/refine';
export {
  simulateRebalancing,
  RebalanceOptionsSchema,
  type RebalanceOptions,
  type RebalanceOptionsInput,
  type RebalanceReport,
  type RebalanceStepReport,
} from './rebalance/simulate';
