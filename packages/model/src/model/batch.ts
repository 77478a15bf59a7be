import { z } from 'zod';
import { ValidationError, capIssues, toFieldIssues, type FieldIssue } from '@moge/core';

/**
 * A batch of B sequences of S tokens, row-major (token t = b·S + s). `labels[t]` is the token that
 * position t should predict, or −1 to leave it out of the loss.
 */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  seqLen: number;
  labels?: Int32Array;
}

/** The label that leaves a position out of the loss. */
export const IGNORE_LABEL = -1;

/** Next-token labels: position s predicts token s+1 of its sequence; the last position is ignored. */
export function nextTokenLabels(ids: Int32Array, batch: number, seqLen: number): Int32Array {
  const labels = new Int32Array(batch * seqLen).fill(IGNORE_LABEL);
  for (let b = 0; b < batch; b++) for (let s = 0; s + 1 < seqLen; s++) labels[b * seqLen + s] = ids[b * seqLen + s + 1]!;
  return labels;
}

const TokenRowsSchema = z.array(z.array(z.number().int().nonnegative()).min(1)).min(1);

/** How many problems of an input_ids array an error lists; a batch of thousands of rows can have a problem in each. */
const MAX_LISTED_ISSUES = 10;

const capRowIssues = (issues: FieldIssue[]) =>
  capIssues(issues, MAX_LISTED_ISSUES, (rest, total) => ({ path: '…', received: `${rest} more`, expected: `the same fix for the other ${rest} (${total} problems in all)` }));

/** `{"input_ids": [[...], ...]}` rows → a batch with next-token labels. Rows must be equally long and ids < vocab. */
export function tokenBatchFromRows(rows: unknown, vocabSize: number, subject = 'input_ids'): TokenBatch {
  const result = TokenRowsSchema.safeParse(rows);
  if (!result.success) throw new ValidationError(subject, capRowIssues(toFieldIssues(result.error, rows)));
  const parsed = result.data;
  const seqLen = parsed[0]!.length;
  const issues: FieldIssue[] = [];
  parsed.forEach((row, b) => {
    if (row.length !== seqLen) issues.push({ path: `[${b}]`, received: `${row.length} tokens`, expected: `${seqLen} tokens, like row 0 (rows must be equally long)` });
    row.forEach((id, s) => {
      if (id >= vocabSize) issues.push({ path: `[${b}][${s}]`, received: id, expected: `a token id below vocab_size ${vocabSize}` });
    });
  });
  if (issues.length > 0) throw new ValidationError(subject, capRowIssues(issues));
  const ids = Int32Array.from(parsed.flat());
  return { ids, batch: parsed.length, seqLen, labels: nextTokenLabels(ids, parsed.length, seqLen) };
}
