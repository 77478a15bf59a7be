import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planDispatch } from './dispatch';

/** E experts, top-K, T tokens and T·K expert ids drawn by `ids(e, n)`. */
function routing(ids: (e: number, n: number) => fc.Arbitrary<number[]>) {
  return fc
    .record({ e: fc.integer({ min: 1, max: 12 }), k: fc.integer({ min: 1, max: 4 }), t: fc.integer({ min: 0, max: 24 }) })
    .chain(({ e, k, t }) => ids(e, t * k).map((expertIds) => ({ e, k, t, expertIds })));
}

/** Any id in [0, e). */
const uniform = routing((e, n) => fc.array(fc.nat({ max: e - 1 }), { minLength: n, maxLength: n }));

/**
 * Skewed: most assignments go to one hot expert, the rest to a few others, so segments range from
 * everything to empty — including empty experts between full ones and every token on one expert.
 */
const skewed = routing((e, n) =>
  fc
    .record({ hot: fc.nat({ max: e - 1 }), others: fc.array(fc.nat({ max: e - 1 }), { minLength: 1, maxLength: 2 }) })
    .chain(({ hot, others }) =>
      fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(hot) }, { weight: 1, arbitrary: fc.constantFrom(...others) }), { minLength: n, maxLength: n }),
    ),
);

/** The whole contract of planDispatch, checked against the ids alone. */
function checkPlan({ e, k, t, expertIds }: { e: number; k: number; t: number; expertIds: number[] }) {
  const n = t * k;
  const p = planDispatch(expertIds, e, k);
  expect(p.order).toHaveLength(n);
  expect(p.positionOf).toHaveLength(n);
  expect(p.tokenOfSorted).toHaveLength(n);
  expect(p.offsets).toHaveLength(e + 1);
  expect(p.counts).toHaveLength(e);
  // order is a permutation of 0…n−1 and positionOf is its inverse.
  expect([...p.order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, a) => a));
  for (let i = 0; i < n; i++) {
    expect(p.positionOf[p.order[i]!]).toBe(i);
    expect(p.tokenOfSorted[i]).toBe(Math.floor(p.order[i]! / k));
  }
  // Offsets: start at 0, never decrease, end at n (every assignment dispatched exactly once).
  expect(p.offsets[0]).toBe(0);
  expect(p.offsets[e]).toBe(n);
  for (let x = 0; x < e; x++) expect(p.offsets[x + 1]).toBeGreaterThanOrEqual(p.offsets[x]!);
  // Segment x holds exactly the assignments routed to x, in assignment (token) order.
  for (let x = 0; x < e; x++) {
    const routed = expertIds.flatMap((id, a) => (id === x ? [a] : []));
    expect(p.counts[x]).toBe(routed.length);
    expect(p.offsets[x + 1]! - p.offsets[x]!).toBe(routed.length);
    expect([...p.order.subarray(p.offsets[x]!, p.offsets[x + 1]!)]).toEqual(routed);
  }
}

describe('planDispatch', () => {
  it('sorts assignments by expert, stably, with inverse positions and offsets (property, any routing)', () => {
    fc.assert(fc.property(uniform, checkPlan), { numRuns: 1000 });
  });

  it('keeps the contract under skewed routing: a hot expert, empty experts, everything on one (property)', () => {
    fc.assert(fc.property(skewed, checkPlan), { numRuns: 1000 });
  });

  it('routes every token to one expert: one full segment, the others empty', () => {
    checkPlan({ e: 5, k: 2, t: 7, expertIds: new Array<number>(14).fill(3) });
    const p = planDispatch(new Array<number>(14).fill(3), 5, 2);
    expect([...p.offsets]).toEqual([0, 0, 0, 0, 14, 14]);
    expect([...p.order]).toEqual(Array.from({ length: 14 }, (_, a) => a));
  });

  it('names a bad expert id', () => {
    expect(() => planDispatch([0, 5], 4, 1)).toThrow(/assignment 1: got 5/);
    expect(() => planDispatch([0, -1], 4, 1)).toThrow(/assignment 1: got -1/);
  });

  it('refuses a fractional or NaN expert id instead of dropping its assignment (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.double({ min: 0, max: 12, noNaN: true }).filter((x) => !Number.isInteger(x)),
        fc.nat({ max: 5 }),
        (e, bad, at) => {
          const ids = new Array<number>(6).fill(0);
          ids[at] = Math.min(bad, e - 0.5);
          expect(() => planDispatch(ids, e, 1)).toThrow(new RegExp(`assignment ${at}: got`));
        },
      ),
    );
    expect(() => planDispatch([NaN], 4, 1)).toThrow(/assignment 0: got NaN/);
  });
});
