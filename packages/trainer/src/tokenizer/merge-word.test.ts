import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeByRescan } from './merge-by-rescan.test-support';
import { mergeWord, type PairRank } from './merge-word';

/** A merge table over a small alphabet: pair (a, b) → new id, ranks in table order, as BPE training writes. */
const mergeTable = fc
  .array(fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 9 })), { maxLength: 30 })
  .map((pairs) => {
    const table = new Map<string, { rank: number; id: number }>();
    let nextId = 4; // ids 0..3 are the "bytes"; merged ids follow
    pairs.forEach(([a, b], rank) => {
      const key = `${a},${b}`;
      if (!table.has(key)) table.set(key, { rank, id: nextId++ });
    });
    const rankOf: PairRank = (a, b) => table.get(`${a},${b}`);
    return rankOf;
  });

describe('mergeWord (heap over a linked list, as Hugging Face merges a word)', () => {
  it('gives what rescanning for the lowest-ranked, leftmost pair after every merge gives', () => {
    fc.assert(
      fc.property(mergeTable, fc.array(fc.nat({ max: 3 }), { maxLength: 60 }), (rankOf, word) => {
        expect(mergeWord(word, rankOf)).toEqual(mergeByRescan(word, rankOf));
      }),
      { numRuns: 500 },
    );
  });

  it('merges overlapping equal pairs from the left: "aaa" → (aa)a, "aaaa" → (aa)(aa) → aaaa', () => {
    const rankOf: PairRank = (a, b) => (a === 0 && b === 0 ? { rank: 0, id: 1 } : a === 1 && b === 1 ? { rank: 1, id: 2 } : undefined);
    expect(mergeWord([0, 0, 0], rankOf)).toEqual([1, 0]);
    expect(mergeWord([0, 0, 0, 0], rankOf)).toEqual([2]);
    expect(mergeWord([], rankOf)).toEqual([]);
    expect(mergeWord([3], rankOf)).toEqual([3]);
  });

  it('merges a 200 000-symbol run without a break to the same tokens as rescanning a short one predicts', () => {
    // Two merges: 0 0 → 1, 1 1 → 2. A run of 4k zeros ends as k copies of 2.
    const rankOf: PairRank = (a, b) => (a === 0 && b === 0 ? { rank: 0, id: 1 } : a === 1 && b === 1 ? { rank: 1, id: 2 } : undefined);
    const run = new Array<number>(200_000).fill(0);
    const merged = mergeWord(run, rankOf);
    expect(merged).toHaveLength(50_000);
    expect(merged.every((id) => id === 2)).toBe(true);
    expect(mergeByRescan(new Array<number>(40).fill(0), rankOf)).toEqual(new Array<number>(10).fill(2));
  });
});
