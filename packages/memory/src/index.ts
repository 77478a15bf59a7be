// Public API of @moge/memory.
export {
  TrainingMemoryOptionsSchema,
  HostLinkSchema,
  type TrainingMemoryOptions,
  type TrainingMemoryOptionsInput,
  type HostLink,
} from './training/options';
export type { ActivationTensor, FineRecompute, BlockKind } from './training/activation-shape';
export type { RecomputeCost } from './training/recompute-cost';
export { MemoryPolicySchema, policyOf, withPolicy, type MemoryPolicy } from './training/policy';
export { inFlightProfiles } from './training/schedule';
export { checkPlanFitsArch, layerSlots, servingSplitsKvHeads, type LayerSlot } from './training/stage-layout';
export { absentModules, hasMoeLayers, seqLengthMultiple, tpSplitsFfn, tpSplitsKvHeads, tpSplitWidths, trainingPlanIssues } from './training/plan-rules';
export type { StageParams, StaticBytes } from './training/static-memory';
export {
  estimateTrainingMemory,
  type TrainingMemoryEstimate,
  type StageMemory,
  type LayerActivation,
} from './training/estimate';
export { CostRatesSchema, PlanMemoryOptionsSchema, type CostRates, type PlanMemoryOptions, type PlanMemoryOptionsInput } from './planner/plan-options';
export { planMemory, type MemoryPlanResult, type AddedTime } from './planner/plan-memory';
export type { Shortfall, MemoryComponent } from './planner/explain';
export { kvBytesPerToken, kvBytesPerTokenPerLayer, kvBytesPerTokenPerDevice, kvBytesPerTokenPerStage, type KvStageOptions } from './inference/kv-cache';
export { servingStages, vllmLayerPartition, ppLayerPartitionIssues, type ServingStage, type ServingStageOptions } from './inference/serving-stages';
export { InferenceMemoryOptionsSchema, type InferenceMemoryOptions, type InferenceMemoryOptionsInput } from './inference/inference-options';
export { estimateInferenceMemory, maxBatchForContext, type InferenceMemoryEstimate, type StageServingMemory } from './inference/inference-estimate';
export {
  BlockManager,
  BlockManagerOptionsSchema,
  type BlockManagerOptions,
  type BlockManagerOptionsInput,
  type AllocStatus,
  type AppendResult,
  type BlockManagerSnapshot,
} from './kv-blocks/block-manager';
export { hostLinkOf, peakCostRatesOf, deviceMemoryBytes } from './hardware';
