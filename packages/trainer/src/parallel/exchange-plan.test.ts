import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planDispatch } from '@moge/model';
import { gatherHostRows, planReceive, planSend, scatterHostRows } from './exchange-plan';
import { expertOwnership } from './ownership';

/**
 * Simulates one MoE layer's expert-parallel exchange across P ranks with the real plans and a serial
 * all-to-all, tagging every routed copy with (origin rank, sorted position, expert) so the test can
 * follow each one there and back.
 */
function simulate(expertIdsByRank: number[][], P: number, El: number, topK: number) {
  const E = P * El;
  const plans = expertIdsByRank.map((ids) => planDispatch(ids, E, topK));
  // Row of a routed copy: [origin rank, sorted position, expert] (width 3).
  const rows = plans.map((plan, r) => {
    const out = new Float32Array(plan.order.length * 3);
    for (let e = 0; e < E; e++) for (let i = plan.offsets[e]!; i < plan.offsets[e + 1]!; i++) out.set([r, i, e], i * 3);
    return out;
  });
  const sends = plans.map((plan) => planSend(plan.offsets, P, El).sendRows);
  // Serial all-to-all of the counts (source-major per destination) and of the rows.
  const recvCounts = Array.from({ length: P }, (_, d) => Int32Array.from(plans.flatMap((plan) => Array.from(plan.counts.subarray(d * El, (d + 1) * El)))));
  const recvRows = Array.from({ length: P }, (_, d) => {
    const parts = plans.map((plan, s) => {
      const lo = plan.offsets[d * El]!;
      return rows[s]!.subarray(lo * 3, (lo + sends[s]![d]!) * 3);
    });
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) out.set(p, (at += p.length) - p.length);
    return out;
  });
  return { plans, rows, recvCounts, recvRows, sends };
}

const layerCase = fc
  .record({ P: fc.constantFrom(1, 2, 4), El: fc.integer({ min: 1, max: 3 }), topK: fc.integer({ min: 1, max: 3 }), tokens: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 4 }) })
  .chain(({ P, El, topK, tokens }) =>
    fc.record({
      P: fc.constant(P),
      El: fc.constant(El),
      topK: fc.constant(topK),
      // Per rank: tokens[r]·topK expert ids (0 tokens allowed: an idle rank still joins the exchange).
      ids: fc.tuple(...Array.from({ length: P }, (_, r) => fc.array(fc.integer({ min: 0, max: P * El - 1 }), { minLength: (tokens[r % tokens.length] ?? 0) * topK, maxLength: (tokens[r % tokens.length] ?? 0) * topK }))),
    }),
  );

describe('expert-parallel dispatch plan', () => {
  it('every routed copy is sent exactly once, to its expert’s owner, and returns to its origin', () => {
    fc.assert(
      fc.property(layerCase, ({ P, El, topK, ids }) => {
        const { plans, rows, recvCounts, recvRows } = simulate(ids, P, El, topK);
        const seen = new Set<string>();
        const returned = plans.map(() => [] as Float32Array[]);
        for (let d = 0; d < P; d++) {
          const plan = planReceive(recvCounts[d]!, P, El);
          expect(plan.expertMajor.length * 3).toBe(recvRows[d]!.length);
          const local = gatherHostRows(recvRows[d]!, plan.expertMajor, 3);
          for (let j = 0; j < El; j++) {
            let lastSource = -1;
            for (let i = plan.localOffsets[j]!; i < plan.localOffsets[j + 1]!; i++) {
              const [src, pos, expert] = local.subarray(i * 3, i * 3 + 3);
              expect(expert).toBe(d * El + j); // landed in its expert's segment, on the owner
              expect(src).toBeGreaterThanOrEqual(lastSource); // source order kept inside an expert
              lastSource = src!;
              const key = `${src}:${pos}`;
              expect(seen.has(key)).toBe(false); // at most once
              seen.add(key);
            }
          }
          // Experts' outputs go back in received order, split by source.
          const back = scatterHostRows(local, plan.expertMajor, 3);
          let at = 0;
          plan.rowsFromSource.forEach((n, s) => {
            returned[s]!.push(back.subarray(at * 3, (at + n) * 3));
            at += n;
          });
        }
        // Exactly once: everything routed was seen.
        expect(seen.size).toBe(ids.reduce((a, r) => a + r.length, 0));
        // Each origin gets its rows back, concatenated in destination order = its own sorted order.
        returned.forEach((parts, r) => {
          const got = Float32Array.from(parts.flatMap((p) => Array.from(p)));
          expect(got).toEqual(rows[r]);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('send counts are the contiguous expert blocks of each owner', () => {
    const plan = planDispatch([0, 3, 1, 3, 2, 2], 4, 2);
    expect(planSend(plan.offsets, 2, 2).sendRows).toEqual([2, 4]);
    expect(() => planSend(plan.offsets, 3, 2)).toThrow(/offsets/);
  });
});

describe('expert ownership from the moge placement', () => {
  it('gives each worker whole MoGE groups as one contiguous block', () => {
    const own = expertOwnership(8, 4, 2);
    expect(Array.from(own.ownerOf)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(expertOwnership(8, 4, 4).perRank).toBe(2);
    expect(() => expertOwnership(8, 4, 3)).toThrow(/expert groups/);
  });
});
