import type { MoeArch } from '@moge/core';

/** Bytes of one fp32 logit. */
const LOGIT_BYTES = 4;

/**
 * The sampler's logits that vLLM's profiling run reserves on the device holding the LM head (the last
 * pipeline stage), beyond the forward's activations: `profile_run` ends with `_dummy_sampler_run`,
 * which samples min(maxBatchedTokens, maxNumSeqs) sequences at once (`_dummy_run` takes
 * num_reqs = min(num_tokens, max_num_seqs)) from logits the sampler casts to fp32.
 *
 * The vocabulary is whole on every TP rank: the head is vocab-parallel, but vLLM's LogitsProcessor
 * gathers its shards before sampling, by an all-gather to every TP rank under the V1 engine
 * (`Platform.use_all_gather()`), by a gather to rank 0 otherwise. Either way the busiest rank holds
 * `vocabSize` logits per sequence, and that rank is what this estimate describes. Only this fp32
 * tensor is counted; the 16-bit logits it is cast from and the sampler's smaller temporaries are not.
 */
export function samplerLogitsBytes(arch: MoeArch, maxNumSeqs: number, maxBatchedTokens: number): number {
  return Math.min(maxNumSeqs, maxBatchedTokens) * arch.vocabSize * LOGIT_BYTES;
}
