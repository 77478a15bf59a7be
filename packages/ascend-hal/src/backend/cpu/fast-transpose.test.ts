import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transpose } from '../reference/indexing';
import { CpuTensor } from './cpu-tensor';
import { transposeRuns } from './fast-transpose';

describe('transposeRuns', () => {
  it('equals the reference transpose for every permutation, short runs and long (memcpy) runs, f32 and i32', () => {
    const shape = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 });
    const lastAxis = fc.constantFrom(1, 3, 31, 32, 64, 70);
    fc.assert(
      fc.property(shape, lastAxis, fc.boolean(), fc.integer({ min: 0, max: 1000 }), (lead, last, ints, seed) => {
        const dims = [...lead, last];
        const size = dims.reduce((p, d) => p * d, 1);
        const data = ints ? Int32Array.from({ length: size }, (_, i) => i) : Float32Array.from({ length: size }, (_, i) => Math.sin(i + seed));
        const a = new CpuTensor('x', ints ? 'i32' : 'f32', dims, data);
        // every permutation of the leading axes, last axis kept (the fast path), and one that moves it
        const perms = permutations(lead.length).map((p) => [...p, lead.length]);
        perms.push([lead.length, ...lead.map((_, i) => i)]);
        for (const perm of perms) {
          const got = transposeRuns(a, perm);
          const want = transpose(a, perm);
          expect(got.shape).toEqual(want.shape);
          expect(Array.from(got.data)).toEqual(Array.from(want.data));
        }
      }),
      { numRuns: 40 },
    );
  });
});

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}
