import { parseWith, ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import type { ValidationRow } from '../train/validate';
import type { InferenceProfile } from './profile';
import { simulateInference, type InferenceSimResult } from './simulate';
import { INFERENCE_CASES, type InferenceCase } from './validation-cases';

export interface InferenceValidateOptions {
  /** Inference profile to validate (default `inference-default`). */
  profile?: string;
  /** A profile object (a calibration trying a fit). */
  profileData?: InferenceProfile;
}

export function runInferenceCase(c: InferenceCase, options: InferenceValidateOptions = {}): InferenceSimResult {
  return simulateInference({
    arch: getPreset(c.arch),
    cluster: parseClusterSpec(c.cluster),
    plan: parseWith(ParallelPlanSchema, c.plan, `plan of ${c.id}`),
    workload: c.workload,
    ...(options.profileData ? { profile: options.profileData } : options.profile ? { profile: options.profile } : {}),
  });
}

/** The predicted figure of a case: TPOT for decode cases, TTFT for prefill. */
export function predictedFigure(c: InferenceCase, r: InferenceSimResult): number {
  return c.metric === 'TPOT' ? r.tpotS! : r.ttftS!;
}

/**
 * Predicts PRO-D1, PRO-D2 and PRO-P1 of targets.md beside the published figures, as rows of the
 * training validator's type so `moge sim validate` prints both in one table (goal ±10 % each).
 */
export function validateInference(options: InferenceValidateOptions = {}): ValidationRow[] {
  return INFERENCE_CASES.map((c) => {
    const predicted = predictedFigure(c, runInferenceCase(c, options));
    const error = predicted / c.published - 1;
    return {
      id: c.id,
      system: c.system,
      metric: c.metric,
      published: c.published,
      predicted,
      error,
      errorKind: 'relative' as const,
      goal: 0.1,
      withinGoal: Math.abs(error) <= 0.1,
      source: c.source,
      assumed: c.assumed,
      unit: 's',
    };
  });
}
