import { createReferenceBackend } from '@moge/ascend-hal';
import { Rng } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchAuxLoss, equalTokenSegments, segmentedAuxLoss } from '../aux/aux-loss';
import { randomLogits, randomScale, scoreRows } from '../test-support/host-oracle';
import type { RouterConfig } from './config';
import { createRouter } from './registry';
import { numericGrad } from '../test-support/numeric-grad';

/**
 * Gradients of every router against central finite differences of a float64 host re-implementation.
 * Selection is piecewise constant, so the host function keeps the ids the forward chose: that is the
 * function whose gradient backward computes.
 */
const backend = createReferenceBackend();

/** L = Σ dW·w + Σ dP·p with fixed ids, in float64. */
function hostLoss(
  z: Float64Array,
  s: Float64Array,
  ids: Int32Array,
  tokens: number,
  c: RouterConfig,
  dW: Float64Array,
  dP: Float64Array | null,
): number {
  const { numExperts: e, topK: k } = c;
  const p = scoreRows(z, tokens, e, c.scoring);
  let loss = 0;
  for (let t = 0; t < tokens; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += p[t * e + ids[t * k + j]!]!;
    for (let j = 0; j < k; j++) {
      const id = ids[t * k + j]!;
      const gate = c.renormalize ? p[t * e + id]! / sum : p[t * e + id]!;
      loss += dW[t * k + j]! * gate * s[id]!;
    }
  }
  if (dP) for (let i = 0; i < p.length; i++) loss += dP[i]! * p[i]!;
  return loss;
}

function expectClose(analytic: ArrayLike<number>, numeric: Float64Array, what: string): void {
  expect(analytic.length).toBe(numeric.length);
  for (let i = 0; i < numeric.length; i++) {
    const err = Math.abs(analytic[i]! - numeric[i]!);
    if (err > 2e-5 + 1e-3 * Math.abs(numeric[i]!)) {
      throw new Error(`${what}[${i}]: analytic ${analytic[i]} vs finite difference ${numeric[i]}`);
    }
  }
}

const kinds = fc.oneof(
  fc.record({ kind: fc.constant('moge'), m: fc.integer({ min: 1, max: 4 }), g: fc.integer({ min: 1, max: 5 }) }).chain((s) =>
    fc.integer({ min: 1, max: s.g }).map((kg) => ({
      kind: s.kind,
      config: { numExperts: s.m * s.g, numGroups: s.m, topK: s.m * kg },
    })),
  ),
  fc
    .record({ e: fc.integer({ min: 2, max: 12 }), scoring: fc.constantFrom('softmax' as const, 'sigmoid' as const), renormalize: fc.boolean() })
    .chain((s) => fc.integer({ min: 1, max: s.e }).map((k) => ({ kind: 'topk', config: { numExperts: s.e, topK: k, scoring: s.scoring, renormalize: s.renormalize } }))),
  fc
    .record({ m: fc.integer({ min: 2, max: 4 }), g: fc.integer({ min: 2, max: 4 }), scoring: fc.constantFrom('softmax' as const, 'sigmoid' as const), renormalize: fc.boolean() })
    .chain((s) =>
      fc.integer({ min: 1, max: s.m - 1 }).chain((topGroups) =>
        fc.integer({ min: 1, max: topGroups * s.g }).map((k) => ({
          kind: 'group-limited',
          config: { numExperts: s.m * s.g, numGroups: s.m, topK: k, topGroups, scoring: s.scoring, renormalize: s.renormalize },
        })),
      ),
    ),
);

describe('router backward', () => {
  it('dLogits and dRouterScale match central finite differences (with and without dProbs)', () => {
    fc.assert(
      fc.property(kinds, fc.integer({ min: 1, max: 4 }), fc.nat(), fc.boolean(), ({ kind, config }, tokens, seed, withDProbs) => {
        const router = createRouter(kind, config);
        const c = router.config;
        const e = c.numExperts;
        const k = c.topK;
        const z32 = randomLogits(seed, tokens * e, 1.5);
        const s32 = randomScale(seed, e);
        const fwd = router.forward(backend, backend.fromArray(z32, [tokens, e]), backend.fromArray(s32, [e]));

        const rng = new Rng(seed + 1);
        const dW32 = Float32Array.from({ length: tokens * k }, () => rng.normal());
        const dP32 = withDProbs ? Float32Array.from({ length: tokens * e }, () => rng.normal()) : null;
        const grads = router.backward(backend, fwd, backend.fromArray(dW32, [tokens, k]), dP32 ? backend.fromArray(dP32, [tokens, e]) : undefined);
        expect(grads.dLogits.shape).toEqual([tokens, e]);
        expect(grads.dRouterScale.shape).toEqual([e]);

        const z = Float64Array.from(z32);
        const s = Float64Array.from(s32);
        const dW = Float64Array.from(dW32);
        const dP = dP32 ? Float64Array.from(dP32) : null;
        const ids = fwd.expertIdsHost;
        expectClose(backend.read(grads.dLogits), numericGrad(z, (zz) => hostLoss(zz, s, ids, tokens, c, dW, dP)), `${kind} dLogits`);
        expectClose(backend.read(grads.dRouterScale), numericGrad(s, (ss) => hostLoss(z, ss, ids, tokens, c, dW, dP)), `${kind} dRouterScale`);
      }),
      { numRuns: 80 },
    );
  });

  it('rejects gradients of the wrong shape', () => {
    const router = createRouter('moge', { numExperts: 8, numGroups: 2, topK: 2 });
    const fwd = router.forward(backend, backend.zeros([3, 8]), backend.full([8], 1));
    expect(() => router.backward(backend, fwd, backend.zeros([3, 3]))).toThrow(/dWeights: got \[3, 3\], expected \[3, 2\]/);
    expect(() => router.backward(backend, fwd, backend.zeros([3, 2]), backend.zeros([3, 4]))).toThrow(/dProbs: got \[3, 4\], expected \[3, 8\]/);
  });
});

/** aux(z) in float64, counts fixed from the forward's ids, averaged over token segments. */
function hostAux(z: Float64Array, ids: Int32Array, tokens: number, e: number, k: number, offsets: number[]): number {
  const p = scoreRows(z, tokens, e, 'softmax');
  let total = 0;
  const groups = offsets.length - 1;
  for (let g = 0; g < groups; g++) {
    const [lo, hi] = [offsets[g]!, offsets[g + 1]!];
    const tg = hi - lo;
    const count = new Float64Array(e);
    const mean = new Float64Array(e);
    for (let t = lo; t < hi; t++) {
      for (let j = 0; j < k; j++) count[ids[t * k + j]!]! += 1;
      for (let i = 0; i < e; i++) mean[i]! += p[t * e + i]! / tg;
    }
    for (let i = 0; i < e; i++) total += ((e / (k * tg)) * count[i]! * mean[i]!) / groups;
  }
  return total;
}

describe('auxiliary losses', () => {
  const shapes = fc
    .record({ m: fc.integer({ min: 1, max: 4 }), g: fc.integer({ min: 1, max: 5 }), tokens: fc.integer({ min: 1, max: 9 }), seed: fc.nat() })
    .chain((s) => fc.record({ kg: fc.integer({ min: 1, max: s.g }), segments: fc.integer({ min: 1, max: s.tokens }) }).map((x) => ({ ...s, ...x })));

  it('value and ∂aux/∂logits (through Router.backward) match float64 finite differences, batch and per EP group', () => {
    fc.assert(
      fc.property(shapes, ({ m, g, kg, tokens, seed, segments }) => {
        const e = m * g;
        const k = m * kg;
        const router = createRouter('moge', { numExperts: e, numGroups: m, topK: k });
        const z32 = randomLogits(seed, tokens * e, 1.5);
        const fwd = router.forward(backend, backend.fromArray(z32, [tokens, e]), backend.full([e], 1));
        const offsets = equalTokenSegments(tokens, segments);
        const aux = segmentedAuxLoss(backend, fwd.probs, fwd.expertIdsHost, k, offsets);
        const z = Float64Array.from(z32);
        const exact = hostAux(z, fwd.expertIdsHost, tokens, e, k, offsets);
        expect(Math.abs(aux.loss - exact)).toBeLessThan(1e-5 * Math.max(1, exact));
        expect(aux.segmentLosses).toHaveLength(segments);

        const grads = router.backward(backend, fwd, backend.zeros([tokens, k]), aux.dProbs);
        expectClose(backend.read(grads.dLogits), numericGrad(z, (zz) => hostAux(zz, fwd.expertIdsHost, tokens, e, k, offsets)), 'aux dLogits');
        expect(Array.from(backend.read(grads.dRouterScale)).every((x) => x === 0)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it('one segment is the batch-level loss; it equals 1 under perfectly uniform routing', () => {
    const router = createRouter('moge', { numExperts: 8, numGroups: 8, topK: 8 });
    const fwd = router.forward(backend, backend.fromArray(randomLogits(1, 5 * 8), [5, 8]), backend.full([8], 1));
    const batch = batchAuxLoss(backend, fwd.probs, fwd.expertIdsHost, 8);
    const seg = segmentedAuxLoss(backend, fwd.probs, fwd.expertIdsHost, 8, [0, 5]);
    expect(batch.loss).toBe(seg.loss);
    // Every expert chosen by every token: f_i = 1, so aux = Σ p̄_i = 1.
    expect(batch.loss).toBeCloseTo(1, 6);
    expect(Array.from(batch.expertCounts)).toEqual(new Array(8).fill(5));
  });

  it('rejects bad segments and ids', () => {
    const p = backend.full([4, 2], 0.5);
    const ids = new Int32Array([0, 1, 0, 1]);
    expect(() => segmentedAuxLoss(backend, p, ids, 1, [0, 2, 2, 4])).toThrow(/segment 1: offsets 2..2, expected a non-empty segment/);
    expect(() => segmentedAuxLoss(backend, p, ids, 1, [0, 3])).toThrow(/expected 0 = o\[0\] < … < o\[G\] = T = 4/);
    expect(() => batchAuxLoss(backend, p, ids, 2)).toThrow(/expert ids: got 4, expected T·K = 8/);
    // An id past E (or below 0) would count in the next (or previous) segment's row.
    expect(() => segmentedAuxLoss(backend, p, Int32Array.from([0, 2, 1, 0]), 1, [0, 2, 4])).toThrow(/expert id at 1: got 2, expected an integer in \[0, 2\)/);
    expect(() => segmentedAuxLoss(backend, p, Int32Array.from([0, 1, -1, 0]), 1, [0, 2, 4])).toThrow(/expert id at 2: got -1/);
    expect(() => equalTokenSegments(4, 5)).toThrow(/EP groups: got 5, expected an integer in \[1, tokens=4\]/);
    expect(equalTokenSegments(10, 4)).toEqual([0, 3, 5, 8, 10]);
  });

  it('equalTokenSegments: G contiguous segments from 0 to T, sizes ⌊T/G⌋ or ⌈T/G⌉ (differing by at most one), as documented', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }).chain((t) => fc.tuple(fc.constant(t), fc.integer({ min: 1, max: Math.min(t, 4096) }))),
        ([tokens, groups]) => {
          const o = equalTokenSegments(tokens, groups);
          expect(o).toHaveLength(groups + 1);
          expect(o[0]).toBe(0);
          expect(o[groups]).toBe(tokens);
          const sizes = o.slice(1).map((x, g) => x - o[g]!);
          const lo = Math.floor(tokens / groups);
          expect(sizes.filter((n) => n !== lo && n !== Math.ceil(tokens / groups))).toEqual([]);
          expect(sizes.every((n) => Number.isInteger(n) && n >= 1)).toBe(true);
        },
      ),
      { numRuns: 300, seed: 20261202 },
    );
  });

  it('rejects what would make the loss silently wrong or NaN: fractional offsets or token counts, K not a positive integer, no tokens', () => {
    const p = backend.full([3, 2], 0.5);
    // [0, 1.5, 3] used to give a loss (token 1 counted in segment 1, T_0 = 1.5) instead of an error.
    expect(() => segmentedAuxLoss(backend, p, [0, 1, 1], 1, [0, 1.5, 3])).toThrow(/offset 1 is 1.5, expected an integer token index/);
    // K = 0 gave NaN, K = 1.5 a loss of 0.
    expect(() => batchAuxLoss(backend, backend.full([3, 2], 0.5), [], 0)).toThrow(/aux loss topK: got 0, expected a positive integer/);
    expect(() => batchAuxLoss(backend, backend.full([2, 2], 0.5), [0, 1, 1], 1.5)).toThrow(/aux loss topK: got 1.5/);
    expect(() => batchAuxLoss(backend, backend.zeros([0, 2]), [], 1)).toThrow(/got 0 tokens, expected at least one/);
    // 5.5 tokens over 2 groups gave offsets [0, 3, 6], past the last token.
    expect(() => equalTokenSegments(5.5, 2)).toThrow(/EP group tokens: got 5.5, expected a positive integer/);
  });
});
