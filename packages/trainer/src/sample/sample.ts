import type { Backend } from '@moge/ascend-hal';
import { parseWith, Rng } from '@moge/core';
import { createKvCache, modelForward, type ModelWeights } from '@moge/model';
import { z } from 'zod';
import { END_OF_TEXT, type ByteLevelBpeTokenizer } from '../tokenizer/tokenizer';

export const SampleOptionsSchema = z.object({
  prompt: z.string(),
  /** New tokens at most; generation also stops at `<|endoftext|>`. */
  maxTokens: z.number().int().positive().default(64),
  /** 0 = greedy (argmax); otherwise logits are divided by it before sampling. */
  temperature: z.number().nonnegative().default(0),
  /** Sample only among the k likeliest tokens (0 = all). */
  topK: z.number().int().nonnegative().default(0),
  /**
   * Nucleus sampling (Holtzman et al. 2020; Hugging Face's and vLLM's `top_p`): sample only among the
   * likeliest tokens whose probabilities, after temperature and top-k, first reach this mass (1 = all).
   */
  topP: z.number().gt(0, 'a probability mass in (0, 1]').max(1, 'a probability mass in (0, 1]').default(1),
  seed: z.number().int().min(0).max(0xffffffff).default(0),
});
export type SampleOptions = z.input<typeof SampleOptionsSchema>;

export interface SampleResult {
  text: string;
  promptTokens: number;
  tokens: number[];
  stoppedAtEndOfText: boolean;
  /** Prompt tokens dropped from the front to leave room for maxTokens within max_position_embeddings (0 when none). */
  promptTokensDropped: number;
  /** Generation stopped at max_position_embeddings before `maxTokens` or <|endoftext|>. */
  stoppedAtContextLimit: boolean;
}

/**
 * Index of the token to emit from one row of logits: argmax, or a draw from softmax(logits / T) over the
 * top-k likeliest tokens (0 = all), narrowed to the top-p nucleus (1 = no narrowing) — the order of
 * Hugging Face's logits warpers (temperature, top-k, top-p). With neither, no sort: the draw reads
 * the tokens in id order, as it always has, so a seed gives the same text as before top-p existed.
 */
export function pickToken(logits: Float32Array, temperature: number, topK: number, rng: Rng, topP = 1): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature === 0) return best;
  let ids = Array.from(logits.keys());
  const narrowK = topK > 0 && topK < ids.length;
  if (narrowK || topP < 1) ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (narrowK) ids = ids.slice(0, topK);
  const max = logits[best]!;
  let weights = ids.map((i) => Math.exp((logits[i]! - max) / temperature));
  if (topP < 1) {
    // The likeliest tokens until their mass reaches topP: the one that crosses it is kept, and always one.
    const target = topP * weights.reduce((a, b) => a + b, 0);
    let mass = 0;
    let keep = 0;
    while (keep < ids.length && (keep === 0 || mass < target)) mass += weights[keep++]!;
    ids = ids.slice(0, keep);
    weights = weights.slice(0, keep);
  }
  let u = rng.float() * weights.reduce((a, b) => a + b, 0);
  for (let j = 0; j < ids.length; j++) {
    u -= weights[j]!;
    if (u < 0) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

/**
 * Autoregressive decoding with the model's KV cache: the prompt is run once (prefill), then every
 * new token is a one-position forward that reads the cached keys and values, so each step costs one
 * token's compute rather than the whole sequence's.
 */
export function sampleText(weights: ModelWeights, tokenizer: ByteLevelBpeTokenizer, options: SampleOptions): SampleResult {
  const o = parseWith(SampleOptionsSchema, options, 'sample options');
  const b: Backend = weights.backend;
  const V = weights.arch.vocabSize;
  const eot = tokenizer.specialId(END_OF_TEXT);
  let ids = Array.from(tokenizer.encode(o.prompt));
  // An empty prompt starts from <|endoftext|>, the boundary every training document follows.
  if (ids.length === 0) ids = eot === undefined ? [0] : [eot];
  const limit = weights.arch.maxPositionEmbeddings;
  // p prompt positions leave room for limit − p + 1 new tokens (the last one is read off position
  // limit − 1): a prompt too long for both keeps its last limit − maxTokens + 1 tokens, so --max-tokens
  // is honoured, as Hugging Face's left truncation to max_length − max_new_tokens does.
  const promptTokensDropped = Math.max(0, ids.length - Math.max(1, limit - o.maxTokens + 1));
  if (promptTokensDropped > 0) ids = ids.slice(promptTokensDropped);
  const cache = createKvCache(weights.arch, 1);
  const rng = new Rng(o.seed);
  const out: number[] = [];
  let input = Int32Array.from(ids);
  let stopped = false;
  for (let i = 0; i < o.maxTokens && cache.length + input.length <= limit; i++) {
    const fwd = modelForward(weights, { ids: input, batch: 1, seqLen: input.length }, { cache, withGrad: false });
    const all = b.read(fwd.logits) as Float32Array;
    // Only ids the tokenizer has are candidates: a model's vocabulary may be larger (a corpus too small
    // to fill --vocab-size, or a vocabulary padded for alignment), and those rows decode to nothing.
    const row = (input.length - 1) * V;
    const next = pickToken(all.subarray(row, row + Math.min(V, tokenizer.size)), o.temperature, o.topK, rng, o.topP);
    if (next === eot) {
      stopped = true;
      break;
    }
    out.push(next);
    input = Int32Array.of(next);
  }
  const stoppedAtContextLimit = !stopped && out.length < o.maxTokens;
  return { text: tokenizer.decode(out), promptTokens: ids.length, tokens: out, stoppedAtEndOfText: stopped, promptTokensDropped, stoppedAtContextLimit };
}
