import { ParallelPlanSchema, parseWith, servingPlanInput, type ParallelPlan } from '@moge/core';
import { readInlineOrFile } from './io';

/** How errors name the --plan value: inline JSON, or the file. */
const planSubject = (value: string) => `plan (${value.trim().startsWith('{') ? 'inline JSON' : value})`;

/** `--plan` takes a ParallelPlan file (JSON/YAML) or inline JSON; errors name the bad field. */
export function resolvePlan(value: string): ParallelPlan {
  return parseWith(ParallelPlanSchema, readInlineOrFile(value, '--plan'), planSubject(value));
}

/** `--plan` for serving: a ParallelPlan whose training-only batch fields may be left out. */
export function resolveServingPlan(value: string): ParallelPlan {
  return parseWith(ParallelPlanSchema, servingPlanInput(readInlineOrFile(value, '--plan')), planSubject(value));
}
