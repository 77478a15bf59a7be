import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AdamW, decaysByDefault } from './adamw';
import { clipGradNorm, globalGradNorm } from './clip';
import { learningRate, LrScheduleSchema } from './schedule';

describe('AdamW', () => {
  it('matches the textbook update (PyTorch AdamW order) on a scalar, computed independently', () => {
    const opt = new AdamW({ beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    const p = { name: 'w', shape: [2, 2], value: Float32Array.of(1, -2, 0.5, 3) };
    const grads = [Float32Array.of(0.1, 0.2, -0.3, 0.4), Float32Array.of(-0.05, 0.1, 0.2, 0)];
    const ref = Array.from(p.value, Number);
    const m = [0, 0, 0, 0];
    const v = [0, 0, 0, 0];
    grads.forEach((g, t) => {
      opt.update([p], new Map([['w', g]]), 0.01);
      for (let i = 0; i < 4; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.99 * v[i]! + 0.01 * g[i]! ** 2;
        const mh = m[i]! / (1 - 0.9 ** (t + 1));
        const vh = v[i]! / (1 - 0.99 ** (t + 1));
        ref[i] = ref[i]! * (1 - 0.01 * 0.1) - (0.01 * mh) / (Math.sqrt(vh) + 1e-8);
      }
      for (let i = 0; i < 4; i++) expect(p.value[i]).toBeCloseTo(ref[i]!, 5);
    });
  });

  it('decay is decoupled: with zero gradient a matrix shrinks by (1 − lr·λ) per step, a vector not at all', () => {
    const opt = new AdamW({ weightDecay: 0.5 });
    const mat = { name: 'm', shape: [2, 2], value: Float32Array.of(1, 1, 1, 1) };
    const vec = { name: 'b', shape: [4], value: Float32Array.of(1, 1, 1, 1) };
    const zero = new Float32Array(4);
    for (let s = 0; s < 3; s++) opt.update([mat, vec], new Map([['m', zero], ['b', zero]]), 0.1);
    expect(mat.value[0]).toBeCloseTo(0.95 ** 3, 6);
    expect(vec.value[0]).toBe(1);
    expect(decaysByDefault([1, 16])).toBe(false); // router_scale
  });

  it('minimises a quadratic', () => {
    const opt = new AdamW({ weightDecay: 0 });
    const p = { name: 'x', shape: [3], value: Float32Array.of(5, -4, 2) };
    const target = [1, 2, 3];
    for (let s = 0; s < 500; s++) {
      const g = Float32Array.from(p.value, (x, i) => 2 * (x - target[i]!));
      opt.update([p], new Map([['x', g]]), 0.05);
    }
    p.value.forEach((x, i) => expect(x).toBeCloseTo(target[i]!, 2));
  });

  it('a state saved and loaded mid-run continues bit for bit (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 5 }), (g0, cut) => {
        const grad = (s: number) => Float32Array.from(g0, (x, i) => Math.fround(x * Math.cos(s + i)));
        const run = (restartAt: number | null) => {
          let opt = new AdamW();
          const p = { name: 'w', shape: [2, 2], value: Float32Array.of(0.1, 0.2, 0.3, 0.4) };
          for (let s = 0; s < 6; s++) {
            if (s === restartAt) {
              const fresh = new AdamW();
              fresh.load(opt.step, opt.m, opt.v);
              opt = fresh;
            }
            opt.update([p], new Map([['w', grad(s)]]), 1e-2);
          }
          return p.value;
        };
        expect(run(cut)).toEqual(run(null));
      }),
      { numRuns: 30 },
    );
  });
});

describe('gradient clipping', () => {
  it('keeps the direction and caps the global norm (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 20 }), fc.double({ min: 0.1, max: 10, noNaN: true }), (xs, maxNorm) => {
        const a = Float32Array.from(xs.slice(0, Math.ceil(xs.length / 2)));
        const b = Float32Array.from(xs.slice(Math.ceil(xs.length / 2)));
        const before = globalGradNorm([a, b]);
        const orig = [...a, ...b];
        const reported = clipGradNorm([a, b], maxNorm);
        expect(reported).toBe(before);
        const after = globalGradNorm([a, b]);
        expect(after).toBeLessThanOrEqual(Math.max(maxNorm, before) * (1 + 1e-5));
        if (before <= maxNorm) expect([...a, ...b]).toEqual(orig);
        else expect(after).toBeCloseTo(maxNorm, 3);
      }),
    );
  });
});

describe('learning-rate schedules', () => {
  it('cosine: warms up linearly, peaks, decays monotonically to minLr', () => {
    const s = LrScheduleSchema.parse({ kind: 'cosine', peakLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 100 });
    expect(learningRate(s, 5)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12);
    for (let t = 11; t <= 100; t++) expect(learningRate(s, t)).toBeLessThanOrEqual(learningRate(s, t - 1));
    expect(learningRate(s, 100)).toBeCloseTo(1e-4, 12);
  });

  it('wsd: stable at the peak until the decay phase, then linear to minLr', () => {
    const s = LrScheduleSchema.parse({ kind: 'wsd', peakLr: 1e-3, minLr: 0, warmupSteps: 10, totalSteps: 100, decayFraction: 0.2 });
    expect(learningRate(s, 50)).toBe(1e-3);
    expect(learningRate(s, 80)).toBe(1e-3);
    expect(learningRate(s, 90)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 100)).toBe(0);
  });

  it('refuses minLr above peakLr, naming the field', () => {
    expect(LrScheduleSchema.safeParse({ totalSteps: 10, peakLr: 1e-4, minLr: 1e-3 }).error?.issues[0]?.path).toEqual(['minLr']);
  });
});
