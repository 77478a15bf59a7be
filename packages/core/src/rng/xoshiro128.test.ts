import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from './xoshiro128';

describe('Rng (xoshiro128**)', () => {
  it('matches the reference xoshiro128** output for a known state', () => {
    // Reference: xoshiro128starstar.c by Blackman & Vigna, state {1, 2, 3, 4}.
    const rng = new Rng([1, 2, 3, 4]);
    const out = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('is reproducible from a seed and from a saved state', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    for (let i = 0; i < 100; i++) expect(a.nextUint32()).toBe(b.nextUint32());
    a.normal();
    const saved = a.state();
    const expected = [a.normal(), a.float(), a.int(1000)];
    const c = Rng.fromState(saved);
    expect([c.normal(), c.float(), c.int(1000)]).toEqual(expected);
  });

  it('float is in [0, 1) and int is in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 1_000_000 }), (seed, n) => {
        const rng = new Rng(seed);
        for (let i = 0; i < 20; i++) {
          const f = rng.float();
          const k = rng.int(n);
          if (!(f >= 0 && f < 1) || !(Number.isInteger(k) && k >= 0 && k < n)) return false;
        }
        return true;
      }),
    );
  });

  it('normal samples have mean ~0 and variance ~1', () => {
    const rng = new Rng(7);
    const xs = new Float64Array(100_000);
    rng.fillNormal(xs);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });

  it('forks are deterministic, label-dependent and do not advance the parent', () => {
    const a = new Rng(1);
    const before = a.state();
    const f1 = a.fork('x').nextUint32();
    expect(a.state()).toEqual(before);
    expect(new Rng(1).fork('x').nextUint32()).toBe(f1);
    expect(new Rng(1).fork('y').nextUint32()).not.toBe(f1);
  });

  it('rejects bad seeds with a clear message', () => {
    expect(() => new Rng(-1)).toThrow(/seed must be an integer/);
    expect(() => new Rng(1.5)).toThrow(/seed must be an integer/);
  });

  it('shuffle is a permutation', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    new Rng(3).shuffle(xs);
    expect([...xs].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
