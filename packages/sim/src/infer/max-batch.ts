import { simulateInference, type InferenceSimInput, type InferenceSimResult } from './simulate';

export interface MaxBatchResult {
  /** Largest batch (sequences over the deployment) whose TPOT stays under the cap and whose KV cache fits; 0 if none. */
  batch: number;
  /** The decode step at that batch (null when even batch 1 misses the cap or does not fit). */
  result: InferenceSimResult | null;
  /** Largest batch the KV cache holds at this context (from @moge/memory). */
  kvLimitBatch: number;
  /** What stopped the batch from growing further. */
  limitedBy: 'tpot' | 'kv-cache' | 'none-fits';
}

/**
 * The largest decode batch under a TPOT cap, limited by KV-cache capacity: TPOT grows with the batch
 * (more KV and activations read, more experts touched), so a bisection over [1, KV limit] finds it.
 */
export function maxBatchUnderTpot(input: InferenceSimInput, tpotCapS: number): MaxBatchResult {
  const at = (batch: number) => simulateInference({ ...input, workload: { ...input.workload, phase: 'decode', batch } });
  const first = at(1);
  const kvLimitBatch = first.memory.maxBatch;
  if (kvLimitBatch < 1 || !first.memory.fits) return { batch: 0, result: null, kvLimitBatch, limitedBy: 'none-fits' };
  if (first.tpotS! > tpotCapS) return { batch: 0, result: null, kvLimitBatch, limitedBy: 'tpot' };
  const top = at(kvLimitBatch);
  if (top.tpotS! <= tpotCapS) return { batch: kvLimitBatch, result: top, kvLimitBatch, limitedBy: 'kv-cache' };
  let lo = 1;
  let loResult = first;
  let hi = kvLimitBatch;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const r = at(mid);
    if (r.tpotS! <= tpotCapS) {
      lo = mid;
      loResult = r;
    } else {
      hi = mid;
    }
  }
  return { batch: lo, result: loResult, kvLimitBatch, limitedBy: 'tpot' };
}
