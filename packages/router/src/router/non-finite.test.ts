import { createReferenceBackend } from '@moge/ascend-hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestFirst, randomLogits, randomScale, selectOracle } from '../test-support/host-oracle';
import { RouterConfigSchema, type RouterConfigInput } from './config';
import { mogeForwardHost, selectGroup } from './fused-moge';
import { createRouter } from './registry';
import { createScoredRouter } from './scored-router';
import { selectMoge } from './select';
import type { Router } from './types';

/**
 * The non-finite policy, on every selection path: NaN ranks above every number (torch.topk's order),
 * NaNs among themselves by the lower index, +∞ is the largest number and −∞ the smallest. A NaN score
 * is therefore selected and its NaN reaches the combine weights — and from there the layer output and
 * the loss, where the trainer's E_DIVERGED check stops the run — with sigmoid scores as with softmax.
 */

const backend = createReferenceBackend();
const nan = Number.NaN;

/** Group-limited selection with sigmoid scores needs no MoGE plugin; MoGE's own rejects sigmoid, so build it directly. */
function mogeSigmoid(input: RouterConfigInput): Router {
  return createScoredRouter('moge-sigmoid', RouterConfigSchema.parse({ ...input, scoring: 'sigmoid' }), selectMoge);
}

/** Logits with NaN, ±∞ and repeated values sprinkled over ordinary ones, from a seed. */
function specialLogits(seed: number, size: number, specials: readonly number[]): Float32Array {
  const z = randomLogits(seed, size);
  for (let i = 0; i < size; i++) {
    const pick = (seed + i * 7919) % 11;
    if (pick < specials.length) z[i] = specials[pick]!;
  }
  return z;
}

const SPECIALS = [nan, Infinity, -Infinity, 0, nan] as const;

describe('sigmoid-scored routers with NaN and ±∞ logits', () => {
  const shapes = fc.record({
    m: fc.integer({ min: 1, max: 4 }),
    g: fc.integer({ min: 1, max: 6 }),
    tokens: fc.integer({ min: 1, max: 5 }),
    seed: fc.nat(),
    kRaw: fc.nat(),
    renormalize: fc.boolean(),
  });

  const cases: [string, (m: number, g: number, kRaw: number, renormalize: boolean) => [string, Router]][] = [
    ['moge (sigmoid scores)', (m, g, kRaw) => ['moge', mogeSigmoid({ numExperts: m * g, numGroups: m, topK: m * (1 + (kRaw % g)) })]],
    ['topk', (m, g, kRaw, renormalize) => ['topk', createRouter('topk', { numExperts: m * g, topK: 1 + (kRaw % (m * g)), scoring: 'sigmoid', renormalize })]],
    [
      'group-limited',
      (m, g, kRaw, renormalize) => {
        const topGroups = 1 + (kRaw % m);
        const topK = 1 + (kRaw % (topGroups * g));
        return ['group-limited', createRouter('group-limited', { numExperts: m * g, numGroups: m, topK, topGroups, scoring: 'sigmoid', renormalize })];
      },
    ],
  ];

  it.each(cases)('%s selects what a stable sort with NaN first selects, and NaN reaches the weights', (_name, make) => {
    fc.assert(
      fc.property(shapes, ({ m, g, tokens, seed, kRaw, renormalize }) => {
        const [kind, router] = make(m, g, kRaw, renormalize);
        const c = router.config;
        const e = c.numExperts;
        const k = c.topK;
        const fwd = router.forward(backend, backend.fromArray(specialLogits(seed, tokens * e, SPECIALS), [tokens, e]), backend.fromArray(randomScale(seed, e), [e]));
        const scores = backend.read(fwd.probs);
        const w = backend.read(fwd.weights);
        for (let t = 0; t < tokens; t++) {
          const row = scores.subarray(t * e, (t + 1) * e);
          const ids = Array.from(fwd.expertIdsHost.subarray(t * k, (t + 1) * k));
          expect(ids).toEqual(selectOracle(kind, row, c));
          // Every selected NaN score gives a NaN weight; renormalised, the whole row of gates is NaN.
          const selectedNaN = ids.some((id) => Number.isNaN(row[id]!));
          for (let j = 0; j < k; j++) {
            if (Number.isNaN(row[ids[j]!]!) || (c.renormalize && selectedNaN)) expect(w[t * k + j]).toBeNaN();
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a NaN logit is selected in its group wherever it sits, and its weight is NaN', () => {
    // Expert 1 (group 0) and expert 6 (group 1) go NaN; 0.9 and +∞ are the best numbers of their groups.
    const z = backend.fromArray([0.1, nan, 0.9, 0.3, 0.5, Infinity, nan, -Infinity], [1, 8]);
    const s = backend.full([8], 1);
    const moge = mogeSigmoid({ numExperts: 8, numGroups: 2, topK: 2 }).forward(backend, z, s);
    expect(Array.from(moge.expertIdsHost)).toEqual([1, 6]);
    expect(Array.from(backend.read(moge.weights))).toEqual([nan, nan]);
    const moge2 = mogeSigmoid({ numExperts: 8, numGroups: 2, topK: 4 }).forward(backend, z, s);
    expect(Array.from(moge2.expertIdsHost)).toEqual([1, 2, 6, 5]);
    const topk = createRouter('topk', { numExperts: 8, topK: 3, scoring: 'sigmoid' }).forward(backend, z, s);
    expect(Array.from(topk.expertIdsHost)).toEqual([1, 6, 5]);
    const limited = createRouter('group-limited', { numExperts: 8, numGroups: 4, topK: 2, topGroups: 1, scoring: 'sigmoid' }).forward(backend, z, s);
    expect(Array.from(limited.expertIdsHost)).toEqual([1, 0]);
    expect(Number.isNaN(backend.read(limited.weights)[0])).toBe(true);
  });

  it('the NaN reaches a combined output, the loss and the logits gradient (what E_DIVERGED checks)', () => {
    const tokens = 3;
    const router = mogeSigmoid({ numExperts: 8, numGroups: 4, topK: 4 });
    const z = randomLogits(5, tokens * 8);
    z[8 + 3] = nan; // token 1, expert 3 (group 1)
    const fwd = router.forward(backend, backend.fromArray(z, [tokens, 8]), backend.full([8], 1));
    const w = backend.read(fwd.weights);
    // y_t = Σ_j w_tj · expertOutput_j (any finite expert outputs); loss = Σ y.
    const expertOut = [0.5, -1, 2, 0.25];
    const y = Array.from({ length: tokens }, (_, t) => expertOut.reduce((acc, o, j) => acc + w[t * 4 + j]! * o, 0));
    expect(Number.isFinite(y[0])).toBe(true);
    expect(y[1]).toBeNaN();
    expect(Number.isFinite(y[2])).toBe(true);
    expect(y.reduce((a, b) => a + b, 0)).toBeNaN();
    const grads = router.backward(backend, fwd, backend.full([tokens, 4], 1));
    let sumSq = 0;
    for (const v of backend.read(grads.dLogits)) sumSq += v * v;
    expect(sumSq).toBeNaN();
  });
});

describe('the fused MoGE kernels with NaN and ±∞ logits', () => {
  const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0]!;
  const negativeNaN = bits(0xffc00000);
  const payloadNaN = bits(0x7fc00123);

  it('pick the same ids on the JS path, both WebAssembly precisions and the backend kernels (NaN rows: first ids)', () => {
    // Rows: NaNs of different signs and payloads; +∞ and NaN together; a lone +∞; a row of −∞; finite.
    const rows = [
      [1, negativeNaN, nan, 0.5, 1, 2, 3, 4],
      [1, nan, payloadNaN, 0.5, 1, 2, 3, 4],
      [1, 1, 2, Infinity, 1, nan, 3, 4],
      [Infinity, 1, 2, negativeNaN, 1, 2, 3, 4],
      [1, 2, 3, Infinity, 0, 0, 0, 0],
      [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
      [0.3, -Infinity, 0.2, 0.9, 0.9, 0.1, -1, 2],
    ];
    const tokens = rows.length;
    const logits = Float32Array.from(rows.flat());
    const scale = randomScale(3, 8);
    for (const [m, k] of [[1, 1], [2, 2], [4, 4], [2, 4], [1, 3], [8, 8]] as const) {
      const shape = { tokens, numExperts: 8, numGroups: m, topK: k };
      const js = mogeForwardHost(logits, scale, shape, { wasm: false });
      const f64 = mogeForwardHost(logits, scale, shape, { precision: 'f64' });
      const f32 = mogeForwardHost(logits, scale, shape, { precision: 'f32' });
      const kernels = createRouter('moge', { numExperts: 8, numGroups: m, topK: k, kernel: 'backend' }).forward(
        backend,
        backend.fromArray(logits, [tokens, 8]),
        backend.fromArray(scale, [8]),
      );
      const tag = `M=${m} K=${k}`;
      expect(Array.from(f64.ids), tag).toEqual(Array.from(js.ids));
      expect(Array.from(f32.ids), tag).toEqual(Array.from(js.ids));
      expect(Array.from(kernels.expertIdsHost), tag).toEqual(Array.from(js.ids));
      const g = 8 / m;
      const kg = k / m;
      for (let t = 0; t < tokens - 1; t++) {
        // Every row but the last is all NaN after the softmax: each group's first kg ids, NaN weights.
        const firstIds = Array.from({ length: m }, (_, grp) => Array.from({ length: kg }, (_, j) => grp * g + j)).flat();
        expect(Array.from(js.ids.subarray(t * k, (t + 1) * k)), `${tag} row ${t}`).toEqual(firstIds);
        for (const r of [js, f64, f32]) for (let j = 0; j < k; j++) expect(r.weights[t * k + j]).toBeNaN();
      }
    }
  });

  it('selectGroup (K/M > 1) keeps what a stable sort with NaN first keeps', () => {
    const score = fc.oneof(fc.constantFrom(nan, Infinity, -Infinity, 0, -0, 0.5, 1), fc.float());
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }).chain((g) => fc.record({ g: fc.constant(g), kg: fc.integer({ min: 1, max: g }), row: fc.array(score, { minLength: g, maxLength: g }) })),
        ({ g, kg, row }) => {
          const probs = Float32Array.from(row);
          const ids = new Int32Array(kg);
          const values = new Float32Array(kg);
          selectGroup(probs, 0, g, kg, 100, ids, values, 0);
          const want = bestFirst(probs, Array.from({ length: g }, (_, i) => i)).slice(0, kg);
          expect(Array.from(ids)).toEqual(want.map((i) => 100 + i));
          expect(Array.from(values).every((v, j) => Object.is(v, probs[want[j]!]))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
