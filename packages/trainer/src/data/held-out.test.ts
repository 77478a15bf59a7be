import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HELD_OUT_SPLIT_RULES, splitHeldOut } from './held-out';

/** Documents whose every token is its own position in the corpus, so overlap and coverage can be checked exactly. */
function numberedDocs(lengths: readonly number[]): Int32Array[] {
  let next = 0;
  return lengths.map((n) => Int32Array.from({ length: n }, () => next++));
}

describe('splitHeldOut', () => {
  it('two disjoint streams covering every token, each at least a window; whole documents when held out by document; by either rule (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 2, max: 40 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.constantFrom(...HELD_OUT_SPLIT_RULES),
        (lengths, window, fraction, rule) => {
          const docs = numberedDocs(lengths);
          const total = docs.reduce((a, d) => a + d.length, 0);
          let split;
          try {
            split = splitHeldOut(docs, window, fraction, rule);
          } catch (e) {
            // Too small a corpus, or (with room for both sides) too large a fraction.
            expect((e as { code?: string }).code).toBe(total < 2 * window ? 'E_CORPUS_TOO_SMALL' : 'E_BAD_OPTION');
            expect(total - Math.max(window, Math.round(total * fraction))).toBeLessThan(window);
            return;
          }
          expect(split.train.length).toBeGreaterThanOrEqual(window);
          expect(split.heldOut.length).toBeGreaterThanOrEqual(window);
          const all = [...split.train, ...split.heldOut].sort((a, b) => a - b);
          expect(all).toEqual(Array.from({ length: total }, (_, i) => i));
          if (split.by === 'documents') {
            const held = new Set(split.heldOut);
            for (const d of docs) expect(new Set([...d].map((t) => held.has(t))).size).toBe(1);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a fraction that leaves training less than a window is named as the problem, not the corpus', () => {
    const docs = numberedDocs([400, 400, 400]);
    expect(() => splitHeldOut(docs, 64, 0.97, 2)).toThrow(/heldOutFraction 0\.97 holds out 1164 of the corpus's 1200 tokens .*lower heldOutFraction \(at most 0\.946/);
    expect(() => splitHeldOut(numberedDocs([100]), 64, 0.05, 2)).toThrow(/fewer than two sequences of 64/);
  });

  it('rule 2 holds out between half and twice the fraction of the tokens, or one window where that is more (property)', () => {
    fc.assert(
      fc.property(
        // Few documents of very uneven length, as a handful of text files are, and corpora of many.
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 2, max: 300 }),
        fc.double({ min: 0.001, max: 0.4, noNaN: true }),
        (lengths, window, fraction) => {
          const docs = numberedDocs(lengths);
          const total = docs.reduce((a, d) => a + d.length, 0);
          let split;
          try {
            split = splitHeldOut(docs, window, fraction, 2);
          } catch (e) {
            expect((e as { code?: string }).code).toBe('E_CORPUS_TOO_SMALL'); // when, the property above checks
            return;
          }
          expect(split.heldOut.length).toBeGreaterThanOrEqual(Math.max(window, (fraction * total) / 2));
          expect(split.heldOut.length).toBeLessThanOrEqual(Math.max(window, 2 * fraction * total));
          expect(split.train.length).toBeGreaterThanOrEqual(window);
          expect(split.train.length + split.heldOut.length).toBe(total);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('three documents: rule 2 holds out the fraction of the tokens from the tail, rule 1 (saved runs) a whole document', () => {
    const docs = numberedDocs([1000, 1200, 800]);
    const tokens = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    const now = splitHeldOut(docs, 129, 0.05, 2);
    expect(now.by).toBe('tokens');
    expect([...now.heldOut]).toEqual(tokens(2850, 3000)); // 5 % of 3000
    expect([...now.train]).toEqual(tokens(0, 2850));
    const saved = splitHeldOut(docs, 129, 0.05, 1);
    expect(saved.by).toBe('documents');
    expect([...saved.heldOut]).toEqual([...docs[0]!]);
    expect([...saved.train]).toEqual(tokens(1000, 3000));
  });

  it('rule 2 holds out one window, not a whole document, when the fraction is less than a window', () => {
    const split = splitHeldOut(numberedDocs([300, 300, 300]), 65, 0.05, 2);
    expect(split.by).toBe('tokens');
    expect(split.heldOut.length).toBe(65);
  });

  it('rule 2 cuts tokens when the documents the count picks hold far less than the fraction', () => {
    // 20 documents at 5 %: one, and the first is short.
    const docs = numberedDocs([20, ...Array.from({ length: 19 }, () => 1000)]);
    expect(splitHeldOut(docs, 11, 0.05, 1).heldOut.length).toBe(20);
    const split = splitHeldOut(docs, 11, 0.05, 2);
    expect(split.by).toBe('tokens');
    expect(split.heldOut.length).toBe(Math.round(0.05 * 19_020));
  });

  it('holds out whole documents when they fill a window near the fraction, and the same ones for the same order, by either rule', () => {
    const docs = Array.from({ length: 20 }, (_, d) => Int32Array.from({ length: 10 }, (_, i) => d * 10 + i));
    for (const rule of HELD_OUT_SPLIT_RULES) {
      const split = splitHeldOut(docs, 11, 0.1, rule);
      expect(split.by).toBe('documents');
      expect([...split.heldOut]).toEqual([...docs[0]!, ...docs[1]!]);
      expect(splitHeldOut(docs, 11, 0.1, rule)).toEqual(split);
    }
  });
});
