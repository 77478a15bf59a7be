import { Rng } from '@moge/core';
import type { ByteLevelBpeTokenizer } from '../tokenizer/tokenizer';
import { END_OF_TEXT } from '../tokenizer/tokenizer';
import { LATEST_HELD_OUT_SPLIT, splitHeldOut, type HeldOutSplitRule } from './held-out';

/**
 * Token sequences for causal language modelling. Documents are shuffled once by the seed, encoded
 * with `<|endoftext|>` after each, split into training and held-out streams that share no token
 * (by document where whole documents hold about the held-out share, see held-out.ts), concatenated
 * and cut into windows of `seqLen + 1` tokens (inputs = first seqLen, targets = last seqLen),
 * stepping by seqLen so every token is predicted once.
 */
export interface PackedSplit {
  /** [numSequences, seqLen + 1] row-major. */
  windows: Int32Array;
  numSequences: number;
  seqLen: number;
  tokens: number;
}

export interface TokenDataset {
  train: PackedSplit;
  heldOut: PackedSplit;
  /** FNV-1a of every token id, in order: a resumed run checks that it sees the same data. */
  fingerprint: string;
}

export interface DatasetOptions {
  seqLen: number;
  seed: number;
  /** Share of the tokens held out for evaluation, at least one window (default 0.05; see held-out.ts). */
  heldOutFraction?: number;
  /** Which rule splits off the held-out tokens (default the latest; a resumed run keeps its own, see held-out.ts). */
  heldOutSplit?: HeldOutSplitRule;
}

export function buildTokenDataset(docs: readonly { text: string }[], tokenizer: ByteLevelBpeTokenizer, options: DatasetOptions): TokenDataset {
  const eot = tokenizer.specialId(END_OF_TEXT);
  if (eot === undefined) throw new RangeError(`the tokenizer has no ${END_OF_TEXT} token`);
  const order = docs.map((_, i) => i);
  new Rng(options.seed).fork('documents').shuffle(order);
  const docTokens = order.map((i) => documentStream([docs[i]!.text], tokenizer, eot));
  const split = splitHeldOut(docTokens, options.seqLen + 1, options.heldOutFraction ?? 0.05, options.heldOutSplit ?? LATEST_HELD_OUT_SPLIT);
  const train = pack(split.train, options.seqLen);
  const heldOut = pack(split.heldOut, options.seqLen);
  return { train, heldOut, fingerprint: fingerprint(train.windows, heldOut.windows) };
}

/**
 * The documents' tokens, each followed by `eot`. Document text is encoded as plain text, so the only
 * `eot` ids in the stream are the separators written here, one per document.
 */
export function documentStream(texts: readonly string[], tokenizer: ByteLevelBpeTokenizer, eot: number): Int32Array {
  const parts = texts.map((t) => tokenizer.encodeOrdinary(t));
  const stream = new Int32Array(parts.reduce((a, p) => a + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    stream.set(p, at);
    at += p.length;
    stream[at++] = eot;
  }
  return stream;
}

/** Cuts a token stream into overlapping-by-one windows of seqLen + 1 (the tail that does not fill one is dropped). */
export function pack(stream: Int32Array, seqLen: number): PackedSplit {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`seqLen must be a positive integer, got ${seqLen}`);
  const n = stream.length > seqLen ? Math.floor((stream.length - 1) / seqLen) : 0;
  const windows = new Int32Array(n * (seqLen + 1));
  for (let s = 0; s < n; s++) windows.set(stream.subarray(s * seqLen, s * seqLen + seqLen + 1), s * (seqLen + 1));
  return { windows, numSequences: n, seqLen, tokens: stream.length };
}

function fingerprint(...arrays: Int32Array[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      h ^= a[i]!;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, '0');
}
