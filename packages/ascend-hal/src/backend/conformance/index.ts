export type { ConformanceCase, HostTensor } from './case-builder';
export { DEFAULT_TOLERANCE, compareOutputs, type Tolerance } from './compare';
export { backendConformanceCases, checkConformanceCase, runBackendConformance, type ConformanceResult } from './conformance';
