export type {
  Backend,
  Tensor,
  TensorDType,
  HostArray,
  MatmulOptions,
  UnaryOp,
  BinaryOp,
  RmsNormResult,
  RmsNormGrads,
  GroupTopKResult,
} from './backend';
export { createReferenceBackend } from './reference/reference-backend';
export {
  backendConformanceCases,
  checkConformanceCase,
  runBackendConformance,
  compareOutputs,
  DEFAULT_TOLERANCE,
  type ConformanceCase,
  type ConformanceResult,
  type HostTensor,
  type Tolerance,
} from './conformance/index';
