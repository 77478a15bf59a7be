import { createReferenceBackend } from '@moge/ascend-hal';
import { ValidationError } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balanceMetrics, countExperts } from '../metrics/balance';
import { randomLogits, randomScale, relClose, scoreRows, selectOracle, weightsOracle } from '../test-support/host-oracle';
import type { RouterConfigInput } from './config';
import { createRouter, routerKinds } from './registry';

const backend = createReferenceBackend();

/** Shapes of every kind, generated small so that a property run stays well under a second. */
const mogeShape = fc
  .record({ m: fc.integer({ min: 1, max: 8 }), g: fc.integer({ min: 1, max: 8 }), tokens: fc.integer({ min: 1, max: 6 }), seed: fc.nat() })
  .chain((s) => fc.record({ kg: fc.integer({ min: 1, max: s.g }) }).map((x) => ({ ...s, ...x })));

const topkShape = fc
  .record({
    e: fc.integer({ min: 1, max: 40 }),
    tokens: fc.integer({ min: 1, max: 6 }),
    seed: fc.nat(),
    scoring: fc.constantFrom('softmax' as const, 'sigmoid' as const),
    renormalize: fc.boolean(),
  })
  .chain((s) => fc.integer({ min: 1, max: s.e }).map((k) => ({ ...s, k })));

const groupLimitedShape = fc
  .record({
    m: fc.integer({ min: 1, max: 8 }),
    g: fc.integer({ min: 1, max: 6 }),
    tokens: fc.integer({ min: 1, max: 6 }),
    seed: fc.nat(),
    scoring: fc.constantFrom('softmax' as const, 'sigmoid' as const),
    renormalize: fc.boolean(),
  })
  .chain((s) =>
    fc
      .integer({ min: 1, max: s.m })
      .chain((topGroups) => fc.integer({ min: 1, max: topGroups * s.g }).map((k) => ({ ...s, topGroups, k }))),
  );

/** Forward on the reference backend, checked against the float64 oracle of the same rule. */
function checkAgainstOracle(kind: string, input: RouterConfigInput, tokens: number, seed: number): void {
  const router = createRouter(kind, input);
  const c = router.config;
  const e = c.numExperts;
  const z = randomLogits(seed, tokens * e);
  const s = randomScale(seed, e);
  const fwd = router.forward(backend, backend.fromArray(z, [tokens, e]), backend.fromArray(s, [e]));

  const probs = backend.read(fwd.probs);
  const exact = scoreRows(z, tokens, c.numExperts, c.scoring);
  for (let i = 0; i < probs.length; i++) expect(relClose(probs[i]!, exact[i]!, 1e-6, 1e-12)).toBe(true);

  expect(fwd.expertIds.shape).toEqual([tokens, c.topK]);
  expect(fwd.expertIds.dtype).toBe('i32');
  expect(Array.from(backend.read(fwd.expertIds))).toEqual(Array.from(fwd.expertIdsHost));
  for (let t = 0; t < tokens; t++) {
    const row = probs.subarray(t * e, (t + 1) * e);
    expect(Array.from(fwd.expertIdsHost.subarray(t * c.topK, (t + 1) * c.topK))).toEqual(selectOracle(kind, row, c));
  }
  const w = backend.read(fwd.weights);
  const wExact = weightsOracle(exact, s, fwd.expertIdsHost, tokens, c);
  for (let i = 0; i < w.length; i++) expect(relClose(w[i]!, wExact[i]!, 1e-5, 1e-12)).toBe(true);
}

describe('routers against the float64 oracle', () => {
  it('registers the three built-in kinds', () => {
    expect(routerKinds()).toEqual(expect.arrayContaining(['moge', 'topk', 'group-limited']));
  });

  it('moge: softmax over all experts, K/M best per group, weight = p·scale', () => {
    fc.assert(
      fc.property(mogeShape, ({ m, g, kg, tokens, seed }) =>
        checkAgainstOracle('moge', { numExperts: m * g, numGroups: m, topK: m * kg }, tokens, seed),
      ),
      { numRuns: 60 },
    );
  });

  it('topk: softmax or sigmoid, with or without renormalisation', () => {
    fc.assert(
      fc.property(topkShape, ({ e, k, tokens, seed, scoring, renormalize }) =>
        checkAgainstOracle('topk', { numExperts: e, topK: k, scoring, renormalize }, tokens, seed),
      ),
      { numRuns: 60 },
    );
  });

  it('group-limited: best topGroups groups by their top-2 sum, then top-k inside', () => {
    fc.assert(
      fc.property(groupLimitedShape, ({ m, g, k, topGroups, tokens, seed, scoring, renormalize }) =>
        checkAgainstOracle('group-limited', { numExperts: m * g, numGroups: m, topK: k, topGroups, scoring, renormalize }, tokens, seed),
      ),
      { numRuns: 60 },
    );
  });

  it('group-limited with every group kept is plain top-k', () => {
    const z = backend.fromArray(randomLogits(7, 5 * 32), [5, 32]);
    const s = backend.full([32], 1);
    const a = createRouter('group-limited', { numExperts: 32, numGroups: 4, topK: 6, topGroups: 4 }).forward(backend, z, s);
    const b = createRouter('topk', { numExperts: 32, topK: 6 }).forward(backend, z, s);
    expect(Array.from(a.expertIdsHost)).toEqual(Array.from(b.expertIdsHost));
  });

  it('group-limited resolves equal group scores and equal experts towards the lower index', () => {
    // Every score equal: groups 0 and 1 are kept, and inside them the lowest ids win.
    const z = backend.zeros([1, 12]);
    const fwd = createRouter('group-limited', { numExperts: 12, numGroups: 4, topK: 4, topGroups: 2 }).forward(backend, z, backend.full([12], 1));
    expect(Array.from(fwd.expertIdsHost)).toEqual([0, 1, 2, 3]);
  });
});

describe('MoGE invariants', () => {
  it('exactly K/M experts per group, group-major and best-first; weights = p·scale, not renormalised', () => {
    fc.assert(
      fc.property(mogeShape, ({ m, g, kg, tokens, seed }) => {
        const e = m * g;
        const k = m * kg;
        const router = createRouter('moge', { numExperts: e, numGroups: m, topK: k });
        const s = randomScale(seed, e);
        const fwd = router.forward(backend, backend.fromArray(randomLogits(seed, tokens * e), [tokens, e]), backend.fromArray(s, [e]));
        const p = backend.read(fwd.probs);
        const w = backend.read(fwd.weights);
        for (let t = 0; t < tokens; t++) {
          const ids = Array.from(fwd.expertIdsHost.subarray(t * k, (t + 1) * k));
          for (let grp = 0; grp < m; grp++) {
            const mine = ids.slice(grp * kg, (grp + 1) * kg);
            expect(mine.every((id) => Math.floor(id / g) === grp)).toBe(true);
            expect(new Set(mine).size).toBe(kg);
            for (let j = 1; j < kg; j++) expect(p[t * e + mine[j - 1]!]!).toBeGreaterThanOrEqual(p[t * e + mine[j]!]!);
          }
          let selected = 0;
          for (let j = 0; j < k; j++) {
            const id = ids[j]!;
            expect(w[t * k + j]).toBe(Math.fround(p[t * e + id]! * s[id]!));
            selected += p[t * e + id]!;
          }
          // No renormalisation: the selected mass plus the rest is the whole softmax.
          let rest = 0;
          for (let i = 0; i < e; i++) if (!ids.includes(i)) rest += p[t * e + i]!;
          expect(Math.abs(selected + rest - 1)).toBeLessThan(1e-5);
          if (k < e) expect(selected).toBeLessThan(1 + 1e-6);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('the K weights sum to less than 1 at router_scale = 1 (Pangu Pro shape)', () => {
    const tokens = 64;
    const router = createRouter('moge', { numExperts: 64, numGroups: 8, topK: 8 });
    const fwd = router.forward(backend, backend.fromArray(randomLogits(3, tokens * 64, 1), [tokens, 64]), backend.full([64], 1));
    const w = backend.read(fwd.weights);
    for (let t = 0; t < tokens; t++) {
      // HostArray is a union of typed arrays, whose reduce overloads do not unify: sum by hand.
      let sum = 0;
      for (let j = 0; j < 8; j++) sum += w[t * 8 + j]!;
      expect(sum).toBeLessThan(1);
      expect(sum).toBeGreaterThan(0);
    }
  });

  it('IS = 0 whenever every device holds whole groups', () => {
    fc.assert(
      fc.property(mogeShape, fc.integer({ min: 1, max: 8 }), ({ m, g, kg, tokens, seed }, dRaw) => {
        const divisors = Array.from({ length: m }, (_, i) => i + 1).filter((d) => m % d === 0);
        const devices = divisors[dRaw % divisors.length]!;
        const e = m * g;
        const router = createRouter('moge', { numExperts: e, numGroups: m, topK: m * kg });
        const fwd = router.forward(backend, backend.fromArray(randomLogits(seed, tokens * e), [tokens, e]), backend.full([e], 1));
        expect(balanceMetrics(countExperts(fwd.expertIdsHost, e), devices, tokens).imbalanceScore).toBe(0);
      }),
      { numRuns: 80 },
    );
  });

  it('the fused host kernel and the backend-kernel path agree bit for bit', () => {
    fc.assert(
      fc.property(mogeShape, ({ m, g, kg, tokens, seed }) => {
        const e = m * g;
        const cfg = { numExperts: e, numGroups: m, topK: m * kg };
        const z = backend.fromArray(randomLogits(seed, tokens * e), [tokens, e]);
        const s = backend.fromArray(randomScale(seed, e), [e]);
        const fused = createRouter('moge', { ...cfg, kernel: 'fused-host' }).forward(backend, z, s);
        const kernels = createRouter('moge', { ...cfg, kernel: 'backend' }).forward(backend, z, s);
        for (const key of ['probs', 'expertIds', 'weights', 'selectedScores', 'selectedScale'] as const) {
          expect(Array.from(backend.read(fused[key]))).toEqual(Array.from(backend.read(kernels[key])));
          expect(fused[key].shape).toEqual(kernels[key].shape);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('breaks exact ties towards the lower expert id', () => {
    const fwd = createRouter('moge', { numExperts: 8, numGroups: 2, topK: 4 }).forward(backend, backend.zeros([1, 8]), backend.full([8], 1));
    expect(Array.from(fwd.expertIdsHost)).toEqual([0, 1, 4, 5]);
  });
});

describe('router configs', () => {
  const bad = (kind: string, config: Record<string, unknown>, pattern: RegExp) => {
    try {
      createRouter(kind, config as unknown as RouterConfigInput);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as Error).message).toMatch(pattern);
    }
  };

  it('name the field, the value and what was expected', () => {
    bad('moge', { numExperts: 64, numGroups: 8, topK: 6 }, /topK: got 6, expected a multiple of numGroups \(8\)/);
    bad('moge', { numExperts: 64, numGroups: 7, topK: 7 }, /numGroups: got 7, expected a divisor of numExperts \(64\)/);
    bad('moge', { numExperts: 64, numGroups: 8, topK: 8, renormalize: true }, /renormalize: got true, expected false/);
    bad('moge', { numExperts: 64, numGroups: 8, topK: 8, scoring: 'sigmoid' }, /scoring: got "sigmoid", expected 'softmax'/);
    bad('topk', { numExperts: 8, topK: 9 }, /topK: got 9, expected at most numExperts \(8\)/);
    bad('group-limited', { numExperts: 64, numGroups: 8, topK: 8 }, /topGroups: got nothing, expected an integer in \[1, numGroups=8\]/);
    bad('group-limited', { numExperts: 64, numGroups: 8, topK: 8, topGroups: 9 }, /topGroups: got 9, expected at most numGroups \(8\)/);
    bad('group-limited', { numExperts: 64, numGroups: 8, topK: 20, topGroups: 2 }, /topK: got 20, expected at most topGroups·E\/M = 16/);
    bad('topk', { numExperts: 0, topK: 1 }, /numExperts: got 0/);
    bad('switch', { numExperts: 8, topK: 1 }, /kind: got "switch", expected one of moge, topk, group-limited/);
  });

  it('checks the tensors it is given', () => {
    const router = createRouter('topk', { numExperts: 8, topK: 2 });
    expect(() => router.forward(backend, backend.zeros([3, 7]), backend.full([8], 1))).toThrow(/router logits: got f32 \[3, 7\], expected f32 \[T, 8\]/);
    expect(() => router.forward(backend, backend.zeros([3, 8]), backend.full([4], 1))).toThrow(/router_scale: got f32 \[4\], expected f32 \[8\]/);
  });
});
