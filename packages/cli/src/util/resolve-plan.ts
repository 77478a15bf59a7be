import { ParallelPlanSchema, parseWith, type ParallelPlan } from '@moge/core';
import { readInlineOrFile } from './io';

/** How errors name the --plan value: inline JSON, or the file. */
const planSubject = (value: string) => `plan (${value.trim().startsWith('{') ? 'inline JSON' : value})`;

/** `--plan` takes a ParallelPlan file (JSON/YAML) or inline JSON; errors name the bad field. */
export function resolvePlan(value: string): ParallelPlan {
  return parseWith(ParallelPlanSchema, readInlineOrFile(value), planSubject(value));
}

/**
 * `--plan` for serving: a ParallelPlan whose training-only batch fields may be left out (the schema
 * wants globalBatchSize to be a multiple of dp, which means nothing for inference).
 */
export function resolveServingPlan(value: string): ParallelPlan {
  const raw = readInlineOrFile(value);
  let input = raw;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !('globalBatchSize' in raw)) {
    const r = raw as { dp?: unknown; microBatchSize?: unknown };
    const dp = typeof r.dp === 'number' ? r.dp : 1;
    const mbs = typeof r.microBatchSize === 'number' ? r.microBatchSize : 1;
    input = { ...raw, globalBatchSize: dp * mbs };
  }
  return parseWith(ParallelPlanSchema, input, planSubject(value));
}
