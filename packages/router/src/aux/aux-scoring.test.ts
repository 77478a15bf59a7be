import { createReferenceBackend } from '@moge/ascend-hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRouter } from '../router/registry';
import { randomLogits } from '../test-support/host-oracle';
import { batchAuxLoss, equalTokenSegments, segmentedAuxLoss } from './aux-loss';
import { numericGrad } from '../test-support/numeric-grad';

/**
 * The aux loss under each score function: softmax probabilities are used as they are and must sum to
 * 1 per token; sigmoid scores are normalised per token first (DeepSeek-V3), with the gradient through
 * the normalisation. Checked against a float64 host oracle and central finite differences.
 */
const backend = createReferenceBackend();

/** aux(z) in float64 for sigmoid scores: s = σ(z), s' = s / Σ_j s, counts fixed from the forward's ids. */
function hostSigmoidAux(z: Float64Array, ids: Int32Array, tokens: number, e: number, k: number, offsets: number[]): number {
  const p = new Float64Array(tokens * e);
  for (let t = 0; t < tokens; t++) {
    let sum = 0;
    for (let i = 0; i < e; i++) sum += (p[t * e + i] = 1 / (1 + Math.exp(-z[t * e + i]!)));
    for (let i = 0; i < e; i++) p[t * e + i]! /= sum;
  }
  const groups = offsets.length - 1;
  let total = 0;
  for (let g = 0; g < groups; g++) {
    const tg = offsets[g + 1]! - offsets[g]!;
    const count = new Float64Array(e);
    const mean = new Float64Array(e);
    for (let t = offsets[g]!; t < offsets[g + 1]!; t++) {
      for (let j = 0; j < k; j++) count[ids[t * k + j]!]! += 1;
      for (let i = 0; i < e; i++) mean[i]! += p[t * e + i]! / tg;
    }
    for (let i = 0; i < e; i++) total += ((e / (k * tg)) * count[i]! * mean[i]!) / groups;
  }
  return total;
}

describe('aux loss on sigmoid scores (normalised per token, as DeepSeek-V3)', () => {
  it('value and ∂aux/∂logits through Router.backward match float64 finite differences, batch and per EP group', () => {
    const cases = fc
      .record({
        kind: fc.constantFrom('topk', 'group-limited'),
        m: fc.integer({ min: 2, max: 4 }),
        g: fc.integer({ min: 1, max: 4 }),
        tokens: fc.integer({ min: 1, max: 8 }),
        seed: fc.nat(),
        renormalize: fc.boolean(),
      })
      .chain((s) =>
        fc
          .record({ k: fc.integer({ min: 1, max: s.g }), segments: fc.integer({ min: 1, max: s.tokens }) })
          .map((x) => ({ ...s, ...x })),
      );
    fc.assert(
      fc.property(cases, ({ kind, m, g, tokens, seed, renormalize, k, segments }) => {
        const e = m * g;
        const config = kind === 'topk' ? { numExperts: e, topK: k } : { numExperts: e, numGroups: m, topK: k, topGroups: 1 };
        const router = createRouter(kind, { ...config, scoring: 'sigmoid', renormalize });
        const z32 = randomLogits(seed, tokens * e, 1.5);
        const fwd = router.forward(backend, backend.fromArray(z32, [tokens, e]), backend.full([e], 1));
        const offsets = equalTokenSegments(tokens, segments);
        const aux = segmentedAuxLoss(backend, fwd.probs, fwd.expertIdsHost, k, offsets, router.config);
        const z = Float64Array.from(z32);
        const f = (zz: Float64Array) => hostSigmoidAux(zz, fwd.expertIdsHost, tokens, e, k, offsets);
        const exact = f(z);
        expect(Math.abs(aux.loss - exact)).toBeLessThan(1e-5 * Math.max(1, exact));

        const grads = router.backward(backend, fwd, backend.zeros([tokens, k]), aux.dProbs);
        const analytic = backend.read(grads.dLogits);
        const numeric = numericGrad(z, f);
        for (let i = 0; i < numeric.length; i++) {
          const err = Math.abs(analytic[i]! - numeric[i]!);
          if (err > 2e-5 + 1e-3 * Math.abs(numeric[i]!)) throw new Error(`dLogits[${i}]: analytic ${analytic[i]} vs finite difference ${numeric[i]}`);
        }
      }),
      { numRuns: 60, seed: 20261202 },
    );
  });

  it('is 1 under perfectly uniform routing whatever the scores’ size (unnormalised it was Σ_i mean s_i, up to E)', () => {
    const e = 8;
    const router = createRouter('topk', { numExperts: e, topK: e, scoring: 'sigmoid' });
    for (const shift of [-3, 0, 3]) {
      const z = Float32Array.from(randomLogits(7, 5 * e), (x) => x + shift);
      const fwd = router.forward(backend, backend.fromArray(z, [5, e]), backend.full([e], 1));
      // Every expert chosen by every token: f_i = 1, so aux = Σ_i p̄_i = 1 exactly when rows sum to 1.
      expect(batchAuxLoss(backend, fwd.probs, fwd.expertIdsHost, e, { scoring: 'sigmoid' }).loss).toBeCloseTo(1, 6);
    }
  });

  it('a token whose scores all underflowed to 0 contributes nothing, instead of NaN', () => {
    const scores = backend.fromArray([0, 0, 0, 0, 0.5, 0.25, 0.25, 0.5], [2, 4]);
    const aux = batchAuxLoss(backend, scores, [0, 1], 1, { scoring: 'sigmoid' });
    // Token 1's normalised scores are [1/3, 1/6, 1/6, 1/3]; token 0 adds 0 to p̄. f = [2, 2, 0, 0].
    expect(aux.loss).toBeCloseTo(2 * (1 / 3 / 2) + 2 * (1 / 6 / 2), 6);
    expect(Array.from(backend.read(aux.dProbs)).every(Number.isFinite)).toBe(true);
  });

  it('a NaN score still reaches the loss (the trainer stops on it as diverged)', () => {
    const scores = backend.fromArray([NaN, 0.5, 0.5, 0.5], [2, 2]);
    expect(batchAuxLoss(backend, scores, [0, 1], 1, { scoring: 'sigmoid' }).loss).toBeNaN();
  });
});

describe('aux loss on softmax probabilities', () => {
  it('refuses rows that do not sum to 1, naming the tokens and the fix', () => {
    // Sigmoid-like scores passed as probabilities: the loss on them used to come back as a number.
    const scores = backend.fromArray([0.5, 0.5, 0.9, 0.8, 0.25, 0.75], [3, 2]);
    const msg = (range: string, mean: string) =>
      new RegExp(`aux loss probs, tokens ${range}: rows sum to ${mean} on average, expected 1 within 0\\.001 \\(softmax probabilities over the 2 experts\\); for sigmoid scores pass \\{ scoring: 'sigmoid' \\}`);
    expect(() => batchAuxLoss(backend, scores, [0, 1, 0], 1)).toThrow(msg('0\\.\\.2', '1\\.233'));
    // Per segment: the first (row 0) sums to 1, the second (rows 1–2) does not.
    expect(() => segmentedAuxLoss(backend, scores, [0, 1, 0], 1, [0, 1, 3], { scoring: 'softmax' })).toThrow(msg('1\\.\\.2', '1\\.35'));
    expect(() => batchAuxLoss(backend, scores, [0, 1, 0], 1, { scoring: 'tanh' as 'softmax' })).toThrow(
      /aux loss scoring: got "tanh", expected 'softmax' or 'sigmoid'/,
    );
  });

  it('lets a NaN row through, so a diverged router’s NaN reaches the loss', () => {
    const probs = backend.fromArray([NaN, NaN, 0.5, 0.5], [2, 2]);
    expect(batchAuxLoss(backend, probs, [0, 1], 1).loss).toBeNaN();
  });

  it('uses the probabilities as they are: the router config, { scoring: softmax } and no option agree bit for bit', () => {
    const router = createRouter('moge', { numExperts: 16, numGroups: 4, topK: 4 });
    const fwd = router.forward(backend, backend.fromArray(randomLogits(3, 9 * 16), [9, 16]), backend.full([16], 1));
    const plain = segmentedAuxLoss(backend, fwd.probs, fwd.expertIdsHost, 4, [0, 4, 9]);
    const viaConfig = segmentedAuxLoss(backend, fwd.probs, fwd.expertIdsHost, 4, [0, 4, 9], router.config);
    expect(Object.is(viaConfig.loss, plain.loss)).toBe(true);
    expect(viaConfig.segmentLosses).toEqual(plain.segmentLosses);
    expect(Array.from(backend.read(viaConfig.dProbs))).toEqual(Array.from(backend.read(plain.dProbs)));
  });
});
