import type { SourcedNumber } from '@moge/core';
import type { InferenceProfile } from './profile';
import { predictedFigure, runInferenceCase } from './validate';
import { PRO_D1, PRO_D2, PRO_P1, type InferenceCase } from './validation-cases';

/** A profile parameter fitted to one published case, and the range it is searched in. */
interface FitTarget {
  key: 'collectiveLaunches' | 'pagedAttentionEfficiency' | 'quantizedMatmulEfficiency';
  case: InferenceCase;
  lo: number;
  hi: number;
}

/**
 * Each fitted parameter moves mainly one case, which is why three global numbers can be fitted to
 * three figures without a per-case factor: collective overhead sets batch-1 decode (hundreds of
 * small collectives, PRO-D2), paged-attention bandwidth sets large-batch decode (KV reads,
 * PRO-D1), quantised matmul efficiency sets prefill (compute-bound, PRO-P1).
 */
export const INFERENCE_FIT_TARGETS: readonly FitTarget[] = [
  { key: 'collectiveLaunches', case: PRO_D2, lo: 0, hi: 20 },
  { key: 'pagedAttentionEfficiency', case: PRO_D1, lo: 0.2, hi: 1 },
  { key: 'quantizedMatmulEfficiency', case: PRO_P1, lo: 0.2, hi: 1 },
];

function withValue(p: InferenceProfile, key: FitTarget['key'], value: number, source: string): InferenceProfile {
  const entry: SourcedNumber = { value, source, confidence: 'measured' };
  return { ...p, [key]: entry };
}

/**
 * Coordinate-wise bisection: each parameter in turn is bisected until its case's prediction equals
 * the published figure, the others held; a few rounds settle the small cross-effects.
 */
export function fitInferenceProfile(start: InferenceProfile, rounds = 4, steps = 40): InferenceProfile {
  let p = start;
  for (let r = 0; r < rounds; r++) {
    for (const t of INFERENCE_FIT_TARGETS) {
      const source = `fitted: ${t.case.id} ${t.case.metric} ${t.case.published} s (${t.case.source}) by fitInferenceProfile`;
      const f = (v: number) => predictedFigure(t.case, runInferenceCase(t.case, { profileData: withValue(p, t.key, v, source) })) - t.case.published;
      let lo = t.lo;
      let hi = t.hi;
      const rising = f(hi) > f(lo);
      for (let i = 0; i < steps; i++) {
        const mid = (lo + hi) / 2;
        if (f(mid) > 0 === rising) hi = mid;
        else lo = mid;
      }
      p = withValue(p, t.key, (lo + hi) / 2, source);
    }
  }
  return p;
}
