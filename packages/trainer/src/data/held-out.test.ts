import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { splitHeldOut } from './held-out';

describe('splitHeldOut', () => {
  it('two disjoint streams covering every token, each at least a window; whole documents when held out by document (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 2, max: 40 }),
        fc.double({ min: 0.01, max: 0.5, noNaN: true }),
        (lengths, window, fraction) => {
          // Every token is its own position in the corpus, so overlap and coverage can be checked exactly.
          let next = 0;
          const docs = lengths.map((n) => Int32Array.from({ length: n }, () => next++));
          const total = next;
          let split;
          try {
            split = splitHeldOut(docs, window, fraction);
          } catch (e) {
            expect((e as { code?: string }).code).toBe('E_CORPUS_TOO_SMALL');
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

  it('holds out whole documents when they fill a window, and the same ones for the same order', () => {
    const docs = Array.from({ length: 20 }, (_, d) => Int32Array.from({ length: 10 }, (_, i) => d * 10 + i));
    const split = splitHeldOut(docs, 11, 0.1);
    expect(split.by).toBe('documents');
    expect([...split.heldOut]).toEqual([...docs[0]!, ...docs[1]!]);
    expect(splitHeldOut(docs, 11, 0.1)).toEqual(split);
  });
});
