import { createKvCache, modelForward, type ModelWeights } from '@moge/model';

/**
 * Mean ms per token of a greedy batch-1 decode of `steps` tokens after a prefill of `prompt` (not
 * timed), as packages/model/bench/run.ts decodes: the A/B tools in this folder time it in-process.
 */
export function decodeTokenMs(w: ModelWeights, prompt: Int32Array, steps = 32): number {
  const cache = createKvCache(w.arch, 1);
  modelForward(w, { ids: prompt, batch: 1, seqLen: prompt.length }, { cache });
  let next = new Int32Array([1]);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const logits = w.backend.read(modelForward(w, { ids: next, batch: 1, seqLen: 1 }, { cache }).logits) as Float32Array;
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    next = new Int32Array([best]);
  }
  return (performance.now() - t0) / steps;
}
