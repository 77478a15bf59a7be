import { MogeError } from '@moge/core';

/** Token streams of the two splits, before packing. */
export interface StreamSplit {
  train: Int32Array;
  heldOut: Int32Array;
  /** `documents`: whole documents held out; `tokens`: the stream's tail (see splitHeldOut). */
  by: 'documents' | 'tokens';
}

/**
 * The rules splitHeldOut knows, by the number a run's config stores (`heldOutSplit`). A run keeps the
 * rule it started with: another one would evaluate it on documents it trained on and shift its
 * training stream. 1: whole documents whenever they fill a window (runs saved before the rule was
 * versioned). 2: whole documents only while they hold near `fraction` of the tokens.
 */
export const HELD_OUT_SPLIT_RULES = [1, 2] as const;
export type HeldOutSplitRule = (typeof HELD_OUT_SPLIT_RULES)[number];
/** The rule new runs use. */
export const LATEST_HELD_OUT_SPLIT: HeldOutSplitRule = 2;

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
 * held-out streams that share no token, each at least one window long, so evaluation never runs on
 * training data. Let T be the corpus's tokens, f `fraction` and w `window`.
 *
 * By document first, as Megatron does: the first round(f × documents) documents (at least one), and
 * then more, in order, until they fill a window, as long as training keeps one document. Rule 2 takes
 * those documents only when they hold between f·T/2 and max(2·f·T, w) tokens: Megatron's split is by
 * document because its corpora have millions of them, where f of the documents is about f of the
 * tokens; with a few (three text files) one document would be a third of the corpus, and with very
 * uneven ones the share can miss f by far either way. Rule 1 (runs saved before rule 2) takes them
 * whenever they fill a window.
 *
 * Otherwise (a single document, a few, or uneven ones) the stream of all documents is cut instead:
 * its last round(f·T) tokens, at least one window, are held out. Under rule 2 the held-out tokens are
 * therefore always between f·T/2 and max(2·f·T, w).
 */
export function splitHeldOut(docs: readonly Int32Array[], window: number, fraction: number, rule: HeldOutSplitRule): StreamSplit {
  const byDocs = documentSplit(docs, window, fraction);
  const total = docs.reduce((a, p) => a + p.length, 0);
  if (byDocs && (rule === 1 || nearFraction(byDocs.heldOut.length, total, fraction, window))) return byDocs;

  const all = concat(docs);
  const tail = Math.max(window, Math.round(all.length * fraction));
  if (all.length - tail < window && all.length >= 2 * window) {
    // The corpus has room for both sides; the fraction asked for leaves training short.
    const most = Math.floor((1000 * (all.length - window)) / all.length) / 1000;
    throw new MogeError(
      'E_BAD_OPTION',
      `heldOutFraction ${fraction} holds out ${tail} of the corpus's ${all.length} tokens and leaves ${all.length - tail}, less than one sequence of ${window} to train on: ` +
        `lower heldOutFraction (at most ${most} for this corpus; 0.01–0.1 is usual)`,
    );
  }
  if (all.length - tail < window) {
    throw new MogeError(
      'E_CORPUS_TOO_SMALL',
      `the corpus has ${all.length} tokens, fewer than two sequences of ${window} (one to train on, one held out for evaluation): give more text (--data, --max-documents) or a shorter --seq-len`,
    );
  }
  return { train: all.subarray(0, all.length - tail), heldOut: all.subarray(all.length - tail), by: 'tokens' };
}

/** Megatron's choice of held-out documents (see splitHeldOut), or undefined when it leaves either side short of a window. */
function documentSplit(docs: readonly Int32Array[], window: number, fraction: number): StreamSplit | undefined {
  let nHeld = docs.length < 2 ? 0 : Math.max(1, Math.round(docs.length * fraction));
  let heldTokens = docs.slice(0, nHeld).reduce((a, p) => a + p.length, 0);
  while (nHeld > 0 && heldTokens < window && nHeld < docs.length - 1) heldTokens += docs[nHeld++]!.length;
  const split = { train: concat(docs.slice(nHeld)), heldOut: concat(docs.slice(0, nHeld)), by: 'documents' as const };
  return nHeld > 0 && split.heldOut.length >= window && split.train.length >= window ? split : undefined;
}

/** Whether `held` of `total` tokens is within a factor of two of `fraction` (the upper bound at least one window). */
function nearFraction(held: number, total: number, fraction: number, window: number): boolean {
  return held >= (fraction * total) / 2 && held <= Math.max(2 * fraction * total, window);
}
