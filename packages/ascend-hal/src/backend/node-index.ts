export { createOnnxBackend, gemmLibrary, nativeKernelsStatus, OnnxBackendOptionsSchema, type OnnxBackendOptions } from './onnxruntime/onnx-backend';
export { createBackend, BackendNameSchema, type BackendName } from './create-backend';
export { vectorMath, openBlasVectorMath } from './blas/openblas-vector-math';
export { retainFreedMemory, type RetainFreedMemory } from './host/retain-freed-memory';
