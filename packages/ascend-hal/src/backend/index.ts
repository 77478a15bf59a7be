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
  AllocationGroup,
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
/**
 * The WebAssembly binary encoder the HAL's SIMD kernels are written with (wasm/encoder.ts), shared
 * with other packages' hand-written kernels (the router's fused MoGE softmax): one encoder, not two.
 */
export * as wasmEncoder from './wasm/encoder';
export { jsVectorMath, portableVectorMath, type AdamWScalars, type VectorMath } from './host/vector-math';
