import { readFileSync } from 'node:fs';
import { parseWith } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterCasesFileSchema } from '../../golden/router-cases';
import { goldenPath } from '../../test-support/golden-path';
import { randomLogits, randomScale } from '../../test-support/host-oracle';
import { mogeForwardHost, type MogeHostResult, type MogeShape } from '../fused-moge';

/**
 * The fp32 fast path against the float64 path (the reference backend's bits): probabilities within
 * 1e-6 relative (plus two fp32 subnormal ulps, for probabilities below 1e-38), and ids equal except
 * where the two candidates' reference probabilities are within that tolerance of each other.
 */
const REL = 1e-6;
const ABS = 3e-45;
const close = (a: number, b: number) => Object.is(a, b) || Math.abs(a - b) <= REL * Math.abs(b) + ABS;

/** E a multiple of 4 in M groups, logits from ordinary to extreme (probabilities down to subnormal and 0). */
const shapes = fc
  .record({
    m: fc.integer({ min: 1, max: 8 }),
    g: fc.integer({ min: 1, max: 12 }),
    tokens: fc.integer({ min: 1, max: 1500 }),
    seed: fc.nat(),
    std: fc.constantFrom(0.01, 1, 4, 20, 60),
  })
  .filter((s) => (s.m * s.g) % 4 === 0)
  .chain((s) => fc.integer({ min: 1, max: s.g }).map((kg) => ({ ...s, kg })));

function both(shape: MogeShape, logits: Float32Array, scale: Float32Array): [MogeHostResult, MogeHostResult] {
  return [mogeForwardHost(logits, scale, shape, { precision: 'f32' }), mogeForwardHost(logits, scale, shape, { precision: 'f64' })];
}

/** First violation of the contract above, as a message, or null. */
function violation(fast: MogeHostResult, ref: MogeHostResult, shape: MogeShape): string | null {
  for (let i = 0; i < ref.probs.length; i++) {
    if (!close(fast.probs[i]!, ref.probs[i]!)) return `probs[${i}]: ${fast.probs[i]} vs ${ref.probs[i]}`;
  }
  const { numExperts: e, topK: k } = shape;
  for (let i = 0; i < ref.ids.length; i++) {
    const t = Math.floor(i / k);
    const ours = fast.ids[i]!;
    const theirs = ref.ids[i]!;
    if (ours !== theirs) {
      // A near-tie resolved the other way: allowed only between (reference) equals within tolerance.
      if (!close(ref.probs[t * e + ours]!, ref.probs[t * e + theirs]!)) return `ids[${i}]: ${ours} vs ${theirs}`;
      if (!close(fast.values[i]!, ref.probs[t * e + ours]!)) return `values[${i}]: ${fast.values[i]} vs ${ref.probs[t * e + ours]}`;
      continue;
    }
    if (!close(fast.values[i]!, ref.values[i]!)) return `values[${i}]: ${fast.values[i]} vs ${ref.values[i]}`;
    if (!close(fast.weights[i]!, ref.weights[i]!)) return `weights[${i}]: ${fast.weights[i]} vs ${ref.weights[i]}`;
  }
  return null;
}

describe('fp32 SIMD fast path of the fused MoGE forward', () => {
  it('stays within 1e-6 relative of the float64 path, for every group size and logit spread', () => {
    fc.assert(
      fc.property(shapes, ({ m, g, kg, tokens, seed, std }) => {
        const shape = { tokens, numExperts: m * g, numGroups: m, topK: m * kg };
        const logits = randomLogits(seed, tokens * m * g, std);
        const [fast, ref] = both(shape, logits, randomScale(seed, m * g));
        expect(violation(fast, ref, shape)).toBeNull();
      }),
      { numRuns: 40 },
    );
  });

  it('on the Pangu Pro shape (E = 64, M = 8, K = 8): ids identical on 4096 tokens, probabilities within 1e-6', () => {
    const shape = { tokens: 4096, numExperts: 64, numGroups: 8, topK: 8 };
    const [fast, ref] = both(shape, randomLogits(3, 4096 * 64, 2), randomScale(3, 64));
    expect(violation(fast, ref, shape)).toBeNull();
    expect(fast.ids).toEqual(ref.ids);
  });

  it('breaks exact ties towards the lower id, gives −∞ probability 0 and a NaN row NaN', () => {
    const shape = { tokens: 3, numExperts: 8, numGroups: 2, topK: 2 };
    const logits = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, -Infinity, 1, 0, -Infinity, 2, 2, 0, 0, NaN, 0, 0, 0, 0, 0, 0]);
    const [fast] = both(shape, logits, new Float32Array(8).fill(1));
    expect(Array.from(fast.ids)).toEqual([0, 4, 0, 5, 0, 4]);
    expect(Array.from(fast.probs.subarray(0, 8))).toEqual(new Array(8).fill(0.125));
    expect(fast.probs[9]).toBe(0);
    expect(fast.probs[12]).toBe(0);
    expect(Number.isNaN(fast.probs[16])).toBe(true);
  });

  it('matches the golden cases: ids exactly, probabilities and weights to 1e-5 relative', () => {
    const golden = parseWith(RouterCasesFileSchema, JSON.parse(readFileSync(goldenPath('router-cases.json'), 'utf8')), 'router-cases.json');
    const moge = golden.cases.filter((c) => c.num_experts % 4 === 0);
    expect(moge.length).toBeGreaterThan(0);
    for (const c of moge) {
      const shape = { tokens: c.tokens, numExperts: c.num_experts, numGroups: c.num_groups, topK: c.top_k };
      const r = mogeForwardHost(Float32Array.from(c.logits.flat()), Float32Array.from(c.router_scale), shape, { precision: 'f32' });
      expect(Array.from(r.ids), c.name).toEqual(c.expected!.expert_ids.flat());
      const near = (ours: ArrayLike<number>, want: number[]) => want.every((w, i) => Math.abs(ours[i]! - w) <= 1e-5 * Math.abs(w) + 1e-30);
      expect(near(r.probs, c.expected!.probs.flat()), `${c.name} probs`).toBe(true);
      expect(near(r.weights, c.expected!.weights.flat()), `${c.name} weights`).toBe(true);
    }
  });

  it('writes into caller-given output arrays, and refuses one of the wrong length', () => {
    const shape = { tokens: 5, numExperts: 16, numGroups: 4, topK: 4 };
    const logits = randomLogits(9, 80);
    const scale = randomScale(9, 16);
    const out = { probs: new Float32Array(80), ids: new Int32Array(20), weights: new Float32Array(20) };
    const r = mogeForwardHost(logits, scale, shape, { out });
    expect(r.probs).toBe(out.probs);
    expect(r.ids).toBe(out.ids);
    expect(r.weights).toBe(out.weights);
    expect(r).toEqual(mogeForwardHost(logits, scale, shape));
    expect(() => mogeForwardHost(logits, scale, shape, { out: { values: new Float32Array(19) } })).toThrow(/out\.values has 19 elements, expected 20/);
  });

  it('refuses a fractional token count, on the WebAssembly and the JS path', () => {
    // 1.5 tokens × E = 2 is 3 logits: the length check passed and half a token was routed
    // (a zero or NaN probability in the third slot).
    for (const wasm of [true, false]) {
      expect(() =>
        mogeForwardHost(Float32Array.of(0, 1, 2), Float32Array.of(1, 1), { tokens: 1.5, numExperts: 2, numGroups: 1, topK: 2 }, { wasm }),
      ).toThrow(/tokens = 1.5, expected a non-negative integer/);
    }
  });
});
