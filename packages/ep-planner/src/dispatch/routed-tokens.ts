import { z } from 'zod';
import { parseWith, ValidationError, type FieldIssue } from '@moge/core';

/**
 * The router's output for one MoE layer: token t lives on rank sourceRanks[t] (where attention ran)
 * and goes to logical experts expertIds[t·topK .. t·topK + topK).
 */
export interface RoutedTokens {
  topK: number;
  sourceRanks: Int32Array;
  expertIds: Int32Array;
}

/** The same, as JSON: `{ topK, sourceRanks: [rank per token], expertIds: [topK ids per token, flat] }`. */
export const RoutedTokensSchema = z.object({
  topK: z.number().int().positive(),
  sourceRanks: z.array(z.number().int().nonnegative()),
  expertIds: z.array(z.number().int().nonnegative()),
});

/**
 * Checks routed tokens against a placement's sizes (lengths agree, ranks and experts in range) and
 * packs them into typed arrays. Errors name the field, the value and the accepted range.
 */
export function routedTokensFrom(
  value: unknown,
  numRanks: number,
  numExperts: number,
  subject = 'routed tokens',
): RoutedTokens {
  const raw = parseWith(RoutedTokensSchema, value, subject);
  const issues: FieldIssue[] = [];
  if (raw.expertIds.length !== raw.sourceRanks.length * raw.topK) {
    issues.push({ path: 'expertIds', received: raw.expertIds.length, expected: `${raw.sourceRanks.length * raw.topK} ids (topK × tokens)` });
  }
  const badRank = raw.sourceRanks.findIndex((r) => r >= numRanks);
  if (badRank >= 0) issues.push({ path: `sourceRanks[${badRank}]`, received: raw.sourceRanks[badRank], expected: `a rank in [0, ${numRanks})` });
  const badExpert = raw.expertIds.findIndex((e) => e >= numExperts);
  if (badExpert >= 0) issues.push({ path: `expertIds[${badExpert}]`, received: raw.expertIds[badExpert], expected: `an expert id in [0, ${numExperts})` });
  if (issues.length > 0) throw new ValidationError(subject, issues);
  return { topK: raw.topK, sourceRanks: Int32Array.from(raw.sourceRanks), expertIds: Int32Array.from(raw.expertIds) };
}
