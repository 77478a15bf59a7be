import { MogeError } from '@moge/core';

/** Token streams of the two splits, before packing. */
export interface StreamSplit {
  train: Int32Array;
  heldOut: Int32Array;
  /** `documents`: whole documents held out; `tokens`: the stream's tail (one document, or too few tokens per document). */
  by: 'documents' | 'tokens';
}

function concat(parts: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Splits documents (already in their shuffled order, each with its separator) into training and
 * held-out streams that share no token, the held-out one at least one window long so evaluation never
 * runs on training data.
 *
 * By document first, as Megatron does: the first `fraction` of the documents (at least one), and then
 * more documents, in order, until they fill a window, as long as training keeps one. When whole
 * documents cannot do that (a single document, say one text file, or a few short ones), the stream of
 * all documents is cut instead: its last `fraction` of tokens (at least one window) is held out.
 */
export function splitHeldOut(docs: readonly Int32Array[], window: number, fraction: number): StreamSplit {
  let nHeld = docs.length < 2 ? 0 : Math.max(1, Math.round(docs.length * fraction));
  let heldTokens = docs.slice(0, nHeld).reduce((a, p) => a + p.length, 0);
  while (nHeld > 0 && heldTokens < window && nHeld < docs.length - 1) heldTokens += docs[nHeld++]!.length;
  const byDocs = { train: concat(docs.slice(nHeld)), heldOut: concat(docs.slice(0, nHeld)), by: 'documents' as const };
  if (nHeld > 0 && byDocs.heldOut.length >= window && byDocs.train.length >= window) return byDocs;

  const all = concat(docs);
  const tail = Math.max(window, Math.round(all.length * fraction));
  if (all.length - tail < window) {
    throw new MogeError(
      'E_CORPUS_TOO_SMALL',
      `the corpus has ${all.length} tokens, fewer than two sequences of ${window} (one to train on, one held out for evaluation): give more text (--data, --max-documents) or a shorter --seq-len`,
    );
  }
  return { train: all.subarray(0, all.length - tail), heldOut: all.subarray(all.length - tail), by: 'tokens' };
}
