import { z } from 'zod';
import { parseWith } from '@moge/core';
import { pretokenize } from './byte-level';
import { PairHeap } from './pair-heap';

/** The learned BPE: token bytes by id (ids 0–255 are the single bytes) and merges in rank order. */
export interface BpeVocabulary {
  /** token id → the bytes it stands for. */
  tokens: Uint8Array[];
  /** Merges by rank: [left id, right id]; the result is the token whose bytes are left ++ right. */
  merges: [number, number][];
}

export const BpeTrainOptionsSchema = z.object({
  /** Size of the learned vocabulary, special tokens excluded: 256 bytes + merged tokens. */
  vocabSize: z.number().int().min(256).max(1 << 20),
  /** Pairs seen fewer times than this are never merged (training stops early instead). */
  minFrequency: z.number().int().positive().default(2),
});
export type BpeTrainOptions = z.input<typeof BpeTrainOptionsSchema>;

/** Pair key: ids stay below 2^20 (schema bound), so a·2^20 + b is exact in a float64. */
const KEY_BASE = 1 << 20;
const pairKey = (a: number, b: number) => a * KEY_BASE + b;

/** Counts pre-tokens (words) over texts; BPE trains on these counts, never re-reading the corpus. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const word of pretokenize(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/**
 * Trains byte-level BPE over word counts. Incremental, as in HF `BpeTrainer`: the pair table is built
 * once; each merge visits only the words that contain the merged pair (an index from pair to words)
 * and adjusts the counts of the pairs it destroys and creates. A merge whose bytes already form a
 * token reuses that token's id (two merge paths can spell the same string), as HF does, so the
 * vocabulary never holds one string twice.
 */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, options: BpeTrainOptions): BpeVocabulary {
  const opts = parseWith(BpeTrainOptionsSchema, options, 'BPE training options');
  const encoder = new TextEncoder();
  const tokens: Uint8Array[] = [];
  const idOfBytes = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    tokens.push(Uint8Array.of(b));
    idOfBytes.set(String.fromCharCode(b), b);
  }

  // Words sorted so that iteration order (and with it every tie) does not depend on Map insertion.
  const entries = [...wordCounts.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const words: number[][] = entries.map(([w]) => Array.from(encoder.encode(w)));
  const freq: number[] = entries.map(([, c]) => c);

  const pairCounts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1, touched: Set<number> | null) => {
    const s = words[w]!;
    const f = freq[w]! * sign;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = pairKey(s[i]!, s[i + 1]!);
      const next = (pairCounts.get(key) ?? 0) + f;
      if (next === 0) pairCounts.delete(key);
      else pairCounts.set(key, next);
      if (sign > 0) {
        let set = where.get(key);
        if (!set) where.set(key, (set = new Set()));
        set.add(w);
        touched?.add(key);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1, null);

  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const merges: [number, number][] = [];
  const emitted = new Set<number>();
  while (tokens.length < opts.vocabSize) {
    const top = heap.pop();
    if (!top) break;
    const live = pairCounts.get(top.key) ?? 0;
    if (live !== top.count) {
      if (live > 0) heap.push(live, top.key); // stale: counts only drop, so re-queue the true value
      continue;
    }
    if (live < opts.minFrequency) break;
    const a = Math.floor(top.key / KEY_BASE);
    const b = top.key % KEY_BASE;
    const merged = new Uint8Array(tokens[a]!.length + tokens[b]!.length);
    merged.set(tokens[a]!, 0);
    merged.set(tokens[b]!, tokens[a]!.length);
    const mergedKey = String.fromCharCode(...merged);
    let id = idOfBytes.get(mergedKey);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      idOfBytes.set(mergedKey, id);
    }
    // A pair can re-form after it was merged (when a later merge reuses the id of `a` or `b`); it is
    // applied again but listed once, because HF keeps one rank per pair.
    if (!emitted.has(top.key)) {
      emitted.add(top.key);
      merges.push([a, b]);
    }

    const touched = new Set<number>();
    const affected = [...(where.get(top.key) ?? [])].sort((x, y) => x - y);
    where.delete(top.key);
    for (const w of affected) {
      const s = words[w]!;
      if (!containsPair(s, a, b)) continue; // stale index entry: an earlier merge consumed the pair
      addPairs(w, -1, null);
      words[w] = applyMerge(s, a, b, id);
      addPairs(w, 1, touched);
    }
    pairCounts.delete(top.key);
    for (const key of touched) {
      const count = pairCounts.get(key);
      if (count !== undefined && count > 0) heap.push(count, key);
    }
  }
  return { tokens, merges };
}

function containsPair(s: readonly number[], a: number, b: number): boolean {
  for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) return true;
  return false;
}

/** Replaces every non-overlapping (a, b), left to right, by `id`. */
export function applyMerge(s: readonly number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(s[i]!);
  }
  return out;
}
