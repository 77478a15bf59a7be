import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../backend';
import { createOnnxBackend } from '../onnxruntime/onnx-backend';
import { createReferenceBackend } from '../reference/reference-backend';

/**
 * groupTopK's order on every backend the conformance suite runs, against a plain sort: torch.topk's
 * (and torch.sort(descending=True, stable=True)'s) order, in which NaN ranks above every number and
 * equal keys — NaNs among themselves, ±0 — keep the lower index first. A NaN score must be selected,
 * never silently skipped, so that a diverged router's NaN reaches the weights and the loss.
 */

/** b before a? Negative when a goes first: NaN first, then descending, ties (NaN–NaN, ±0) by index. */
function torchOrder(a: number, b: number): number {
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? -1 : 1;
  return a > b ? -1 : a < b ? 1 : 0;
}

/** The oracle: sort each group's (value, index) pairs (Array#sort is stable), keep the first k. */
function sortedGroupTopK(scores: Float32Array, tokens: number, groups: number, groupSize: number, k: number) {
  const ids: number[] = [];
  const values: number[] = [];
  for (let t = 0; t < tokens; t++) {
    for (let g = 0; g < groups; g++) {
      const members = Array.from({ length: groupSize }, (_, j) => g * groupSize + j);
      const kept = members.sort((a, b) => torchOrder(scores[t * groups * groupSize + a]!, scores[t * groups * groupSize + b]!)).slice(0, k);
      ids.push(...kept);
      values.push(...kept.map((id) => scores[t * groups * groupSize + id]!));
    }
  }
  return { ids, values };
}

/** Scores heavy in NaN, ±∞, ±0 and repeated values (ties), mixed with arbitrary fp32 numbers. */
const score = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0, 0.5, 1, -2) },
  { weight: 2, arbitrary: fc.float() },
);

const problem = fc
  .record({ tokens: fc.integer({ min: 1, max: 4 }), groups: fc.integer({ min: 1, max: 5 }), groupSize: fc.integer({ min: 1, max: 9 }) })
  .chain((s) =>
    fc.record({
      k: fc.integer({ min: 0, max: s.groupSize }),
      scores: fc.array(score, { minLength: s.tokens * s.groups * s.groupSize, maxLength: s.tokens * s.groups * s.groupSize }),
    }).map((x) => ({ ...s, ...x })),
  );

describe.each([
  ['reference', createReferenceBackend],
  ['onnxruntime', () => createOnnxBackend()],
] as [string, () => Backend][])('groupTopK with NaN and ±∞ on %s', (_name, factory) => {
  const be = factory();

  it('selects what a stable sort with NaN as the largest selects (torch.topk), ids and values', () => {
    fc.assert(
      fc.property(problem, ({ tokens, groups, groupSize, k, scores }) => {
        const data = Float32Array.from(scores);
        const r = be.groupTopK(be.fromArray(data.slice(), [tokens, groups * groupSize]), groups, k);
        const want = sortedGroupTopK(data, tokens, groups, groupSize, k);
        expect(Array.from(be.read(r.ids))).toEqual(want.ids);
        const got = Array.from(be.read(r.values));
        // Object.is: NaN matches NaN, and the kept value is the very element (so −0 stays −0).
        expect(got.every((v, i) => Object.is(v, want.values[i]))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a NaN in any position of a group, and NaNs by the lower index', () => {
    const nan = Number.NaN;
    const r = be.groupTopK(be.fromArray([0.1, nan, 0.9, 0.3, nan, 0.5, nan, 0.2], [1, 8]), 2, 1);
    expect(Array.from(be.read(r.ids))).toEqual([1, 4]);
    const two = be.groupTopK(be.fromArray([0.1, nan, 0.9, 0.3, nan, 0.5, nan, 0.2], [1, 8]), 1, 3);
    expect(Array.from(be.read(two.ids))).toEqual([1, 4, 6]);
    const inf = be.groupTopK(be.fromArray([Infinity, -Infinity, 3, nan, -Infinity, Infinity], [1, 6]), 1, 6);
    expect(Array.from(be.read(inf.ids))).toEqual([3, 0, 5, 2, 1, 4]);
  });
});
