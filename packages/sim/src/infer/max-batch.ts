import { z } from 'zod';
import { parseWith } from '@moge/core';
import { parseInferenceInput, simulateParsedInference, type InferenceSimInput, type InferenceSimResult } from './simulate';

export interface MaxBatchResult {
  /** Largest batch (sequences over the deployment) whose TPOT stays under the cap and whose KV cache fits; 0 if none. */
  batch: number;
  /** The decode step at that batch (null when even batch 1 misses the cap or does not fit). */
  result: InferenceSimResult | null;
  /**
   * Largest batch the KV cache holds at this context with batch 1's workspace (from @moge/memory); a
   * larger batch's activation workspace can lower it, which `batch` accounts for.
   */
  kvLimitBatch: number;
  /** What stopped the batch from growing further. */
  limitedBy: 'tpot' | 'kv-cache' | 'none-fits';
}

/**
 * The largest decode batch under a TPOT cap that fits in memory: TPOT grows with the batch (more KV
 * and activations read, more experts touched) and so does memory (KV cache and the workspace), so a
 * bisection over [1, KV limit] on "fits and meets the cap" finds it.
 */
export function maxBatchUnderTpot(input: InferenceSimInput, tpotCapS: number): MaxBatchResult {
  // Every comparison with NaN is false, so a NaN cap used to be "met" by batch 1 (and a cap ≤ 0 read
  // as "batch 1 is too slow").
  parseWith(z.object({ tpotCapS: z.number().positive() }), { tpotCapS }, 'max batch under TPOT');
  // Arch, plan and profile parsed once for the whole bisection (the search calls this per layout).
  const parsed = parseInferenceInput(input);
  const at = (batch: number) => simulateParsedInference({ ...parsed, workload: { ...input.workload, phase: 'decode', batch } });
  const meets = (r: InferenceSimResult) => r.memory.fits && r.tpotS! <= tpotCapS;
  const first = at(1);
  const kvLimitBatch = first.memory.maxBatch;
  if (kvLimitBatch < 1 || !first.memory.fits) return { batch: 0, result: null, kvLimitBatch, limitedBy: 'none-fits' };
  if (first.tpotS! > tpotCapS) return { batch: 0, result: null, kvLimitBatch, limitedBy: 'tpot' };
  const top = at(kvLimitBatch);
  if (meets(top)) return { batch: kvLimitBatch, result: top, kvLimitBatch, limitedBy: 'kv-cache' };
  let lo = 1;
  let loResult = first;
  let hi = kvLimitBatch;
  let hiResult = top;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const r = at(mid);
    if (meets(r)) {
      lo = mid;
      loResult = r;
    } else {
      hi = mid;
      hiResult = r;
    }
  }
  return { batch: lo, result: loResult, kvLimitBatch, limitedBy: hiResult.memory.fits ? 'tpot' : 'kv-cache' };
}
