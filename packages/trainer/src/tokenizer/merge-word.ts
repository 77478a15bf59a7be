import { PairHeap } from './pair-heap';

/** Rank and merged id of an adjacent pair of ids, or undefined when the pair never merges. */
export type PairRank = (left: number, right: number) => { rank: number; id: number } | undefined;

/**
 * Applies BPE merges to one word's symbols: the lowest-ranked adjacent pair first, leftmost on ties,
 * until no ranked pair is left — the order of Hugging Face's `Word::merge_all`, and its method: a heap
 * of candidate pairs over a linked list of symbols, so a word of n symbols costs O(n log n). Rescanning
 * the word for its best pair after every merge costs O(n²), which a long run without a space or a
 * letter change (a line of dashes, a base64 blob) turns into minutes or hours.
 *
 * Heap entries may go stale (their left symbol was merged away, or its right neighbour changed); an
 * entry counts only when the pair at its position still has its rank. Positions are the symbols'
 * original indices, which keep their order, so "smaller index" is "further left".
 */
export function mergeWord(symbols: readonly number[], rankOf: PairRank): number[] {
  const n = symbols.length;
  if (n < 2) return [...symbols];
  const ids = Int32Array.from(symbols);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // PairHeap pops the largest count, smaller key on ties: count −rank, key position.
  const heap = new PairHeap();
  const offer = (i: number) => {
    const j = next[i]!;
    if (j < 0) return;
    const r = rankOf(ids[i]!, ids[j]!);
    if (r) heap.push(-r.rank, i);
  };
  for (let i = 0; i + 1 < n; i++) offer(i);
  for (let top = heap.pop(); top; top = heap.pop()) {
    const i = top.key;
    const j = next[i]!;
    if (!alive[i] || j < 0) continue;
    const r = rankOf(ids[i]!, ids[j]!);
    if (!r || r.rank !== -top.count) continue;
    ids[i] = r.id;
    alive[j] = 0;
    next[i] = next[j]!;
    if (next[j]! >= 0) prev[next[j]!] = i;
    if (prev[i]! >= 0) offer(prev[i]!);
    offer(i);
  }
  // The first symbol is never merged away (a merge removes the right one of its pair).
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
  return out;
}
