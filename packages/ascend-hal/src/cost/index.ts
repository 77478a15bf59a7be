export {
  OpSchema,
  MatmulOpSchema,
  GroupedMatmulOpSchema,
  ElementwiseOpSchema,
  AttentionOpSchema,
  CustomOpSchema,
  type Op,
  type MatmulOp,
  type GroupedMatmulOp,
  type ElementwiseOp,
  type AttentionOp,
  type CustomOp,
} from './op';
export { opWork, attentionPairs, groupTokens, type OpWork } from './work';
export {
  EfficiencyProfileSchema,
  MatmulCurveSchema,
  MatmulRowSchema,
  ProfileMeasurementsSchema,
  matmulEfficiency,
  type EfficiencyProfile,
  type MatmulCurve,
  type MatmulRow,
} from './profile';
export { getEfficiencyProfile, listEfficiencyProfiles } from './profiles';
export { estimateOpTime, matrixPeak, type OpTime, type OpTimeOptions } from './estimate-op';
export { fitMatmulEfficiency, matmulRmsLogError, type MatmulFit, type MatmulFitOptions } from './fit';
export { nelderMead, type MinimizeResult } from './nelder-mead';
export { OpsBenchFileSchema, matmulRowsFromOpsBench, fitProfileFromOpsBench, type OpsBenchFile, type OpsBenchFitOptions } from './ops-bench';
