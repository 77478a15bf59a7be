// Public API of @moge/sim.
// Shared by the training and inference simulators: the operator graph of a layer and its costing.
export { attentionOps, denseFfnOps, moeOps, layerOps, embeddingOps, headOps, mtpOps, mtpBodyOps, mtpHeadOps, shardTokens, type LayerShard } from './common/layer-ops';
export { ALL_ELEMENTWISE_FUSED, NO_ELEMENTWISE_FUSED, RMSNORM_UNFUSED, ROPE_UNFUSED, SWIGLU_UNFUSED, permuteUnfused, unpermuteUnfused, type ElementwiseFusion, type UnfusedPasses } from './common/elementwise-kernels';
export { isCommOp, recomputeModuleOf, type LayerOp, type ComputeOp, type CommOp, type OpModule, type CommGroup, type MatmulOp, type GroupedMatmulOp, type ElementwiseOp, type AttentionOp, type CollectiveOp, type ExpertExchangeOp } from './common/ops';
export { ComputeCostCache, ATTENTION_BACKWARD_WORK_RATIO, type ComputeTimes } from './common/op-cost';
export { CommCostCache, type DispatchAlgorithm } from './common/comm-cost';
export { costBlock, opFlops, sumComm, type BlockCost, type BlockCostContext, type PassCost, type CommByGroup } from './common/pass-cost';
export { planGroups, crossesNodes, type PlanGroups, type GroupLayout, type GroupSizes } from './common/group-layout';
export { expertLoadFactor, type ExpertLoadSource, type ExpertLoadQuery } from './common/expert-load';
export { SimProfileSchema, getSimProfile, listSimProfiles, defaultSimProfileFor, type SimProfile } from './common/training-profile';
// Training.
export { pipelineProgram, checkScheduleShape, type PipelineTask, type ProgramStep } from './train/schedule-order';
export { simulatePipeline, type PipelineSimInput, type PipelineSimResult, type ScheduleEvent, type TaskCost } from './train/pipeline-sim';
export { TrainingSimOptionsSchema, ExpertLoadSchema, OverlapSchema, FusedOperatorsSchema, resolveFusedOperators, type FusedOperators, type TrainingSimOptions, type TrainingSimOptionsInput, type ExpertLoad, type Overlap } from './train/options';
export { simulateTraining, MFU_CONVENTION, type TrainingSimInput, type TrainingSimRequest, type TrainingSimResult, type LayerTiming } from './train/simulate';
export { breakdownTotal, type StepBreakdown } from './train/breakdown';
export { buildChromeTrace, STEP_PERIOD_DEFINITION, type ChromeTrace, type ChromeTraceEvent, type StepPeriod } from './train/trace';
export { validateTraining, runCase, searchRankRow, type ValidationRow, type ValidateOptions } from './train/validate';
export { plannedMemoryPolicy } from './train/memory-policy';
export { ULT_T1, ULT_T0, PRO_T1_BEFORE, PRO_T1_AFTER, PUBLISHED, type TrainingCase } from './train/validation-cases';
export { searchTraining, type SearchInput, type SearchEntry, type SearchResult } from './train/search';
export { enumeratePlans, fineRecompute, PlanSpaceSchema, type PlanSpace, type PlanSpaceInput, type PlanTemplate } from './train/search-space';
export { explainEmptyPlanSpace, type EmptyPlanSpaceExplanation } from './train/empty-plan-space';
export { PLAN_SPACE_RULES, type PlanSpaceRule } from './train/plan-space-rules';
export { ArchRangesSchema, enumerateArchs, type ArchRanges } from './train/arch-ranges';
export { layerOpBreakdown, type LayerOpBreakdown, type OpTiming, type OpClass } from './train/op-breakdown';
export { prepareTraining, scheduleTraining, trainingMemory, type PreparedTrainingSim, type PrepareOptions, type SimCaches } from './train/simulate';
export { trainingFlopsPerToken, type TrainingFlopsPerToken } from './train/model-flops';
export { balancedLayerSlots, chunkBalancedSplit, stageLoads, type LayerLayout, type BalancedLayoutInput } from './train/layer-layout';
export { buildLayoutCandidates, buildLayoutCandidate, layoutTails, megatronLayout, type LayoutCandidate, type TailPlacement } from './train/stage-work';
export * from './infer/index';
