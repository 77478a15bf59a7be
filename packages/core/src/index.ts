export { MogeError, ValidationError, FileFormatError, InfeasibleError, capIssues, type FieldIssue } from './errors/moge-error';
export { closestName, parseWith, toFieldIssues } from './errors/parse';
export { Rng, type RngState } from './rng/xoshiro128';
export {
  DTypeSchema,
  DTYPE_BYTES,
  dtypeBytes,
  QuantizationSchema,
  quantizationWeightDType,
  quantizationComputeDType,
  type DType,
  type Quantization,
} from './schemas/dtype';
export {
  MoeArchSchema,
  MlaRanksSchema,
  RouterKindSchema,
  isMoeLayer,
  numMoeLayers,
  type MoeArch,
  type MoeArchInput,
  type MlaRanks,
  type RouterKind,
} from './schemas/moe-arch';
export {
  ParallelPlanSchema,
  RecomputeModuleSchema,
  SwapModuleSchema,
  planWorldSize,
  planExpertDataParallel,
  planNumMicroBatches,
  servingPlanInput,
  MAX_MICRO_BATCHES,
  type ParallelPlan,
  type ParallelPlanInput,
  type RecomputeModule,
  type SwapModule,
} from './schemas/parallel-plan';
export { RoutingStatsSchema, type RoutingStats, type LayerRoutingStats } from './schemas/routing-stats';
export { ProvenanceSchema, SourcedNumberSchema, sourced, type Provenance, type SourcedNumber } from './schemas/provenance';
export * from './units/units';
export { maxOverMean } from './balance/max-over-mean';
export {
  countParameters,
  layerParams,
  attentionParams,
  expertParams,
  swigluParams,
  type ParameterCount,
  type LayerParams,
} from './accounting/parameters';
