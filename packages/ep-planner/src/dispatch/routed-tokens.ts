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
  checkRoutedTokens(raw, numRanks, numExperts, subject);
  return { topK: raw.topK, sourceRanks: Int32Array.from(raw.sourceRanks), expertIds: Int32Array.from(raw.expertIds) };
}

/**
 * The same checks on routed tokens built in code (planDispatch takes `RoutedTokens` as they are): topK
 * a positive integer, topK ids per token, every source rank an integer in [0, numRanks) and every
 * expert id one in [0, numExperts). Without them an id of 9 or −1 among 8 experts was dispatched to
 * rank 0 (an undefined replica read as slot 0), a rank beyond the placement sent from nowhere, and a
 * short id list dropped the last assignments, all with a plausible plan and cost.
 */
export function checkRoutedTokens(
  tokens: { topK: number; sourceRanks: ArrayLike<number>; expertIds: ArrayLike<number> },
  numRanks: number,
  numExperts: number,
  subject = 'routed tokens',
): void {
  const { topK, sourceRanks, expertIds } = tokens;
  const issues: FieldIssue[] = [];
  if (!Number.isInteger(topK) || topK < 1) issues.push({ path: 'topK', received: topK, expected: 'a positive integer' });
  else if (expertIds.length !== sourceRanks.length * topK) {
    issues.push({ path: 'expertIds', received: expertIds.length, expected: `${sourceRanks.length * topK} ids (topK × tokens)` });
  }
  const badRank = findOutside(sourceRanks, numRanks);
  if (badRank >= 0) issues.push({ path: `sourceRanks[${badRank}]`, received: sourceRanks[badRank], expected: `a rank in [0, ${numRanks})` });
  const badExpert = findOutside(expertIds, numExperts);
  if (badExpert >= 0) issues.push({ path: `expertIds[${badExpert}]`, received: expertIds[badExpert], expected: `an expert id in [0, ${numExperts})` });
  if (issues.length > 0) throw new ValidationError(subject, issues);
}

/** Index of the first value that is not an integer in [0, bound), or −1. */
function findOutside(values: ArrayLike<number>, bound: number): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < bound)) return i;
  }
  return -1;
}
