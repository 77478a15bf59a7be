import { z } from 'zod';
import { parseWith, SourcedNumberSchema, ValidationError } from '@moge/core';
import { EfficiencyProfileSchema, type EfficiencyProfile } from '@moge/ascend-hal';
import ascend910bTraining from '../../profiles/ascend-910b-training.json';
import uncalibrated from '../../profiles/uncalibrated.json';

const fraction = SourcedNumberSchema.refine((s) => s.value >= 0 && s.value <= 1, { message: 'a value in [0, 1]' });
const nonNegative = SourcedNumberSchema.refine((s) => s.value >= 0, { message: 'a value ≥ 0' });
const atLeastOne = SourcedNumberSchema.refine((s) => s.value >= 1, { message: 'a value ≥ 1' });

/** One published figure a profile was fitted to, kept beside the fit so anyone can refit or audit it. */
export const FitPointSchema = z.object({
  case: z.string().min(1),
  figure: z.string().min(1),
  value: z.number(),
  source: z.string().min(1),
});

/**
 * Calibration of the simulators for one kind of system (profiles/*.json). Everything the simulator
 * does not derive from the architecture, the plan and the hardware description is here, named, with
 * its provenance and the data it was fitted to — never a per-case factor.
 */
export const SimProfileSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lower-case name of letters, digits and dashes'),
  description: z.string().min(1),
  /** Replaces the chip's own operator-efficiency profile (ascend-hal) when set: a fit at system level. */
  chipEfficiency: EfficiencyProfileSchema.optional(),
  /** Share of the shorter of (compute, communication) that disappears when two micro-batches overlap. */
  overlapEfficiency: fraction,
  /** Fixed time per optimizer step outside the pipeline (launch of the step, loss/grad-norm reductions, logging). */
  stepOverheadS: nonNegative,
  /**
   * Skew of expert popularity under a router without load balancing, as a Zipf exponent over experts
   * (0 = uniform). Drives the busiest device's load for top-k without rebalancing.
   */
  topKZipfExponent: nonNegative,
  /**
   * Device memory a training process cannot use for the model: what the runtime keeps, collective
   * buffers, allocator fragmentation. Added to every memory estimate (absent = 0).
   */
  deviceMemoryReserveBytes: nonNegative.optional(),
  /**
   * Multiplies @moge/memory's tensor-by-tensor activation count (its `activationOverheadFactor`):
   * fragmentation and framework buffers that grow with the activations (absent = 1).
   */
  activationMemoryFactor: atLeastOne.optional(),
  fittedTo: z.array(FitPointSchema),
  method: z.string().min(1),
});
export type SimProfile = z.infer<typeof SimProfileSchema>;

const PROFILES: ReadonlyMap<string, SimProfile> = new Map(
  [ascend910bTraining, uncalibrated].map((raw) => {
    const p = parseWith(SimProfileSchema, raw, `simulator profile ${raw.name}`);
    return [p.name, p] as const;
  }),
);

export function listSimProfiles(): SimProfile[] {
  return [...PROFILES.values()];
}

export function getSimProfile(name: string): SimProfile {
  const p = PROFILES.get(name);
  if (!p) throw new ValidationError('simulator profile', [{ path: 'profile', received: name, expected: `one of ${[...PROFILES.keys()].join(', ')}` }]);
  return p;
}

/** The profile for a chip when none is named: the calibrated one where it exists, the neutral one otherwise. */
export function defaultSimProfileFor(chipName: string): SimProfile {
  return chipName === 'ascend-910b' ? getSimProfile('ascend-910b-training') : getSimProfile('uncalibrated');
}

export type { EfficiencyProfile };
