import { z } from 'zod';
import { parseWith } from '@moge/core';
import { TrainingSimOptionsSchema, type TrainingSimOptions, type TrainingSimOptionsInput } from './options';
import { PlanSpaceSchema, type PlanSpace, type PlanSpaceInput } from './search-space';

const positiveInt = z.number().int().positive();

/**
 * The scalar settings of searchTraining, checked at its door: a search swallows the errors of the
 * plans it tries (a pairing the cost models reject is just skipped), so a bad batch, length or option
 * would otherwise surface as "no plan fits" — or as an empty or crashed search — instead of an error
 * naming the field.
 */
const SearchSettingsSchema = z.object({
  globalBatchSize: positiveInt,
  seqLength: positiveInt,
  objective: z.enum(['throughput', 'mfu']).default('throughput'),
  top: positiveInt.default(10),
  survivors: positiveInt.optional(),
  shortlist: positiveInt.default(4),
}).superRefine((s, ctx) => {
  // Only simulated plans are ranked: fewer survivors than `top` returned fewer plans without a word.
  // (A survivors below 1 has its own issue above.)
  if (s.survivors !== undefined && s.survivors >= 1 && s.survivors < s.top) {
    ctx.addIssue({ code: 'custom', path: ['survivors'], input: s.survivors, message: `at least top (${s.top}): only the plans simulated are ranked` });
  }
});

export interface SearchSettingsInput {
  globalBatchSize: number;
  seqLength: number;
  objective?: 'throughput' | 'mfu';
  top?: number;
  survivors?: number;
  shortlist?: number;
  space?: PlanSpaceInput;
  options?: TrainingSimOptionsInput;
}

export interface SearchSettings {
  globalBatchSize: number;
  seqLength: number;
  objective: 'throughput' | 'mfu';
  top: number;
  /** Default max(4 × top, 200), see SearchInput. */
  survivors: number;
  shortlist: number;
  space: PlanSpace;
  /** Parsed once here; each plan gets them as input again (prepareTraining parses its own). */
  options: TrainingSimOptions;
}

export function parseSearchSettings(input: SearchSettingsInput): SearchSettings {
  const { globalBatchSize, seqLength, objective, top, survivors, shortlist } = input;
  const s = parseWith(SearchSettingsSchema, { globalBatchSize, seqLength, objective, top, survivors, shortlist }, 'search');
  const space = parseWith(PlanSpaceSchema, input.space ?? {}, 'search space');
  const options = parseWith(TrainingSimOptionsSchema, input.options ?? {}, 'training simulator options');
  return { ...s, survivors: s.survivors ?? Math.max(4 * s.top, 200), space, options };
}
