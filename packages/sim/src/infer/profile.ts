import { z } from 'zod';
import { parseWith, SourcedNumberSchema, ValidationError } from '@moge/core';
import inferenceDefault from '../../profiles/inference-default.json';
import { FitPointSchema } from '../common/training-profile';

const fraction = SourcedNumberSchema.refine((s) => s.value > 0 && s.value <= 1, { message: 'a value in (0, 1]' });
const nonNegative = SourcedNumberSchema.refine((s) => s.value >= 0, { message: 'a value ≥ 0' });

/**
 * Calibration of the inference simulator (profiles/*infer*.json). These few numbers are global: the
 * same values apply to every chip, model, layout and workload, so a fit to three Ascend figures is
 * also a prediction for the H200 or a dense model. What differs between chips comes from the
 * hardware description and the chip's operator-efficiency profile, never from here.
 */
export const InferenceProfileSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lower-case name of letters, digits and dashes'),
  description: z.string().min(1),
  /** Host-side time per forward step outside the device's kernels (scheduler, sampling, input preparation). */
  stepOverheadS: nonNegative,
  /**
   * Share of the chip's per-kernel launch overhead a serving engine still pays: decode runs as a
   * captured graph (CUDA graphs, Ascend graph mode) with fused operators, so far less than eager launch.
   */
  launchFraction: fraction,
  /**
   * Efficiency of int8 matmuls (W8A8, W4A8) relative to a bf16 matmul of the same work, applied to
   * the int8 peak: dynamic activation quantisation and dequantising epilogues cost cube time.
   */
  quantizedMatmulEfficiency: fraction,
  /**
   * Fixed cost of one collective call beyond the α-β link model, in kernel launches of the chip
   * (stream synchronisation and the rank handshake): small-batch decode issues hundreds per step.
   */
  collectiveLaunches: nonNegative,
  /**
   * Share of the chip's streaming memory bandwidth that decode attention reaches reading a paged KV
   * cache (block-table gathers, short rows per head); prefill attention is compute-bound and unaffected.
   */
  pagedAttentionEfficiency: fraction,
  /** Share of a collective hidden under the matmul it is fused with (or the shared expert it overlaps). */
  overlapEfficiency: fraction,
  fittedTo: z.array(FitPointSchema),
  method: z.string().min(1),
});
export type InferenceProfile = z.infer<typeof InferenceProfileSchema>;

const PROFILES: ReadonlyMap<string, InferenceProfile> = new Map(
  [inferenceDefault].map((raw) => {
    const p = parseWith(InferenceProfileSchema, raw, `inference profile ${raw.name}`);
    return [p.name, p] as const;
  }),
);

export const DEFAULT_INFERENCE_PROFILE = 'inference-default';

export function listInferenceProfiles(): InferenceProfile[] {
  return [...PROFILES.values()];
}

export function getInferenceProfile(name: string = DEFAULT_INFERENCE_PROFILE): InferenceProfile {
  const p = PROFILES.get(name);
  if (!p) throw new ValidationError('inference profile', [{ path: 'profile', received: name, expected: `one of ${[...PROFILES.keys()].join(', ')}` }]);
  return p;
}
