import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planDispatch } from './dispatch';

describe('planDispatch', () => {
  it('sorts assignments by expert, stably, with inverse positions and offsets (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 20 }), fc.integer(), (e, k, t, seed) => {
        const ids = Array.from({ length: t * k }, (_, a) => Math.abs((seed + a * 7919) % e));
        const p = planDispatch(ids, e, k);
        expect(p.offsets[0]).toBe(0);
        expect(p.offsets[e]).toBe(t * k);
        for (let i = 0; i < t * k; i++) {
          expect(p.positionOf[p.order[i]!]).toBe(i);
          expect(p.tokenOfSorted[i]).toBe(Math.floor(p.order[i]! / k));
          if (i > 0) {
            const [a, b] = [p.order[i - 1]!, p.order[i]!];
            expect(ids[a]! < ids[b]! || (ids[a] === ids[b] && a < b)).toBe(true);
          }
        }
        for (let x = 0; x < e; x++) {
          expect(p.counts[x]).toBe(p.offsets[x + 1]! - p.offsets[x]!);
          for (let i = p.offsets[x]!; i < p.offsets[x + 1]!; i++) expect(ids[p.order[i]!]).toBe(x);
        }
      }),
    );
  });

  it('names a bad expert id', () => {
    expect(() => planDispatch([0, 5], 4, 1)).toThrow(/assignment 1: got 5/);
  });
});
