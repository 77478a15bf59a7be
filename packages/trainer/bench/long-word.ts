/**
 * Encoding a long run without a pre-tokenizer break (a line of dashes, a base64 blob): the tokenizer's
 * heap merge (mergeWord, O(n log n)) against BPE's definition, rescanning after every merge (O(n²),
 * what the tokenizer did before), on the same words and merges in this run.
 *
 *   cd packages/trainer && npx tsx --conditions=@moge/source bench/long-word.ts [--lengths 5000,20000,80000]
 */
import { parseArgs } from 'node:util';
import { mergeByRescan } from '../src/tokenizer/merge-by-rescan.test-support';
import { mergeWord, type PairRank } from '../src/tokenizer/merge-word';

const { values: args } = parseArgs({ options: { lengths: { type: 'string', default: '5000,20000,80000' } } });
const lengths = args.lengths.split(',').map(Number);
if (lengths.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--lengths: got "${args.lengths}", expected whole numbers ≥ 1, comma-separated`);

// GPT-2-like merges of a run of one byte: 0 0 → 1, 1 1 → 2, … (each doubles the token's length).
const rankOf: PairRank = (a, b) => (a === b && a < 16 ? { rank: a, id: a + 1 } : undefined);
const time = (f: () => number[]) => {
  const t0 = performance.now();
  const out = f();
  return { ms: performance.now() - t0, out };
};
console.log('symbols   heap ms   rescan ms   rescan / heap');
for (const n of lengths) {
  const word = new Array<number>(n).fill(0);
  const heap = time(() => mergeWord(word, rankOf));
  const rescan = time(() => mergeByRescan(word, rankOf));
  if (heap.out.join() !== rescan.out.join()) throw new Error(`n ${n}: the two merges disagree`);
  console.log(`${String(n).padStart(7)} ${heap.ms.toFixed(1).padStart(9)} ${rescan.ms.toFixed(1).padStart(11)} ${(rescan.ms / heap.ms).toFixed(1).padStart(15)}`);
}
