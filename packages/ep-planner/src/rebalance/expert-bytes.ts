import { dtypeBytes, expertParams, type DType, type MoeArch } from '@moge/core';
import type { ExpertStateBytes } from './migration';

export interface ExpertStateOptions {
  /** Format the expert weights are kept in on the device. */
  weightDType: DType;
  /**
   * Optimizer bytes per parameter that travel with an expert: 12 for mixed-precision Adam (fp32
   * master weight, first and second moments), 0 for inference.
   */
  optimizerBytesPerParam: number;
}

/** Bytes one expert copy carries when it moves, from the model's expert size (core's parameter accounting). */
export function expertStateBytes(arch: MoeArch, options: ExpertStateOptions): ExpertStateBytes {
  if (!(options.optimizerBytesPerParam >= 0)) {
    throw new RangeError(`expertStateBytes: optimizerBytesPerParam must be ≥ 0, got ${options.optimizerBytesPerParam}`);
  }
  const params = expertParams(arch);
  return { weightBytes: params * dtypeBytes(options.weightDType), optimizerBytes: params * options.optimizerBytesPerParam };
}
