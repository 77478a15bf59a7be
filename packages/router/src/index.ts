// Public API of @moge/router.
export {
  RouterConfigSchema,
  RouterConfigObject,
  groupSize,
  type RouterConfig,
  type RouterConfigInput,
} from './router/config';
export type { Router, RouterForward, RouterGrads } from './router/types';
export { createRouter, registerRouter, routerKinds, type RouterPlugin } from './router/registry';
export { createScoredRouter, type SelectFn, type FastForward } from './router/scored-router';
export { selectMoge, selectTopK, selectGroupLimited, type Selection } from './router/select';
export { mogeForwardHost, type MogeHostOptions, type MogeHostResult, type MogeShape } from './router/fused-moge';
export { batchAuxLoss, segmentedAuxLoss, equalTokenSegments, type AuxLossResult, type AuxLossOptions } from './aux/aux-loss';
export {
  countExperts,
  deviceLoads,
  imbalanceScore,
  maxOverMean,
  coefficientOfVariation,
  balanceMetrics,
  type BalanceMetrics,
} from './metrics/balance';
export { RoutingStatsAccumulator, type StatsAccumulatorOptions } from './metrics/stats-accumulator';
export {
  runImbalanceStudy,
  ImbalanceStudyOptionsSchema,
  type ImbalanceStudyOptions,
  type ImbalanceStudyConfig,
  type ImbalanceStudyRow,
  type ImbalanceStudyResult,
  type StudyProgress,
} from './study/imbalance-study';
export { formatImbalanceStudy } from './study/format';
export {
  RouterCasesFileSchema,
  RouterCaseSchema,
  RouterCaseResultSchema,
  evaluateRouterCase,
  evaluateRouterCases,
  type RouterCase,
  type RouterCasesFile,
  type RouterCaseResult,
  type RouterCaseResults,
} from './golden/router-cases';
export { compareRouterCase, compareRouterCases, type CompareTolerance } from './golden/compare';
