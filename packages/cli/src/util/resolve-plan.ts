import { ParallelPlanSchema, parseWith, type ParallelPlan } from '@moge/core';
import { readInlineOrFile } from './io';

/** `--plan` takes a ParallelPlan file (JSON/YAML) or inline JSON; errors name the bad field. */
export function resolvePlan(value: string): ParallelPlan {
  return parseWith(ParallelPlanSchema, readInlineOrFile(value), `plan (${value.trim().startsWith('{') ? 'inline JSON' : value})`);
}
