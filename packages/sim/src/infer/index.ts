// Inference simulator: prefill / decode steps, the largest batch under a TPOT cap, the search, validation.
export { InferenceWorkloadSchema, InferenceLayoutSchema, SpeculationSchema, RoutingSourceSchema, acceptedTokensPerStep, contextOf, type InferenceWorkload, type InferenceWorkloadInput, type InferenceLayout, type Speculation, type RoutingSource } from './workload';
export { InferenceProfileSchema, getInferenceProfile, listInferenceProfiles, DEFAULT_INFERENCE_PROFILE, type InferenceProfile } from './profile';
export { expertActivity, expertShares, type ExpertActivity } from './expert-activity';
export { simulateInference, type InferenceSimInput, type InferenceSimResult, type InferenceBreakdown, type InferenceStage, type InferencePipeline } from './simulate';
export type { PipelineBound } from './pipeline-step';
export { maxBatchUnderTpot, type MaxBatchResult } from './max-batch';
export { enumerateInferenceLayouts, INFERENCE_LAYOUT_RULES, PANGU_PRO_SEARCH_VARY, PANGU_PRO_SEARCH_PARAMS, type InferenceLayoutCandidate, type InferenceLayoutRule, type InferenceServer } from './search-space';
export { explainEmptyLayoutSpace, type EmptyLayoutSpaceExplanation } from './empty-layout-space';
export { searchInference, serverFilter, defaultTpotCapFor, type InferenceSearchInput, type InferenceSearchEntry, type InferenceSearchResult } from './search';
export { validateInference, runInferenceCase, type InferenceValidateOptions } from './validate';
export { INFERENCE_CASES, PRO_D1, PRO_D2, PRO_P1, type InferenceCase } from './validation-cases';
export { fitInferenceProfile, INFERENCE_FIT_TARGETS } from './calibrate';
export type { OpDetail, InferCommGroup } from './step-cost';
