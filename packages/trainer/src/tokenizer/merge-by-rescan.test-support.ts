import type { PairRank } from './merge-word';

/**
 * BPE merging by its definition, as plainly as it can be written: rescan the word for the
 * lowest-ranked, leftmost pair after every merge (O(n²)). The oracle of mergeWord's tests and the
 * baseline of bench/long-word.ts; not used by the tokenizer.
 */
export function mergeByRescan(symbols: readonly number[], rankOf: PairRank): number[] {
  const s = [...symbols];
  for (;;) {
    let best: { rank: number; at: number; id: number } | undefined;
    for (let i = 0; i + 1 < s.length; i++) {
      const r = rankOf(s[i]!, s[i + 1]!);
      if (r && (!best || r.rank < best.rank)) best = { rank: r.rank, at: i, id: r.id };
    }
    if (!best) return s;
    s.splice(best.at, 2, best.id);
  }
}

