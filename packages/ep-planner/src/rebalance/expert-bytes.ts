import { z } from 'zod';
import { dtypeBytes, DTypeSchema, expertParams, parseWith, type MoeArch } from '@moge/core';
import type { ExpertStateBytes } from './migration';

/**
 * Checked with a schema: an unknown dtype (`'bfloat16'`) gave NaN weight bytes, and an infinite
 * optimizer figure Infinity bytes, both passed on to every migration total without an error.
 */
const ExpertStateOptionsSchema = z.strictObject({
  /** Format the expert weights are kept in on the device. */
  weightDType: DTypeSchema,
  /**
   * Optimizer bytes per parameter that travel with an expert: 12 for mixed-precision Adam (fp32
   * master weight, first and second moments), 0 for inference.
   */
  optimizerBytesPerParam: z.number().finite().nonnegative(),
});
export type ExpertStateOptions = z.input<typeof ExpertStateOptionsSchema>;

/** Bytes one expert copy carries when it moves, from the model's expert size (core's parameter accounting). */
export function expertStateBytes(arch: MoeArch, optionsInput: ExpertStateOptions): ExpertStateBytes {
  const options = parseWith(ExpertStateOptionsSchema, optionsInput, 'expert state options');
  const params = expertParams(arch);
  return { weightBytes: params * dtypeBytes(options.weightDType), optimizerBytes: params * options.optimizerBytesPerParam };
}
