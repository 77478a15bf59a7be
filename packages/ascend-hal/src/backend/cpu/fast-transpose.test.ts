import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNativeKernels, type NativeKernels } from '../native/native-kernels';
import { describeOverNativeKernels, viewAt } from '../native/native-kernels.test-support';
import { transpose } from '../reference/indexing';
import { CpuTensor } from './cpu-tensor';
import { nativeTransposeRuns, transposeRuns } from './fast-transpose';

type Transpose = (a: CpuTensor, perm: readonly number[]) => CpuTensor;

function equalsReference(kernel: Transpose): void {
  it('equals the reference transpose for every permutation, short runs and long (memcpy) runs, f32 and i32, on views', () => {
    const shape = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 });
    const lastAxis = fc.constantFrom(1, 3, 31, 32, 64, 70);
    fc.assert(
      fc.property(shape, lastAxis, fc.boolean(), fc.integer({ min: 0, max: 1000 }), fc.nat(3), (lead, last, ints, seed, offset) => {
        const dims = [...lead, last];
        const size = dims.reduce((p, d) => p * d, 1);
        const data = viewAt(ints ? Int32Array.from({ length: size }, (_, i) => i) : Float32Array.from({ length: size }, (_, i) => Math.sin(i + seed)), offset, -7);
        const a = new CpuTensor('x', ints ? 'i32' : 'f32', dims, data);
        // every permutation of the leading axes, last axis kept (the fast path), and one that moves it
        const perms = permutations(lead.length).map((p) => [...p, lead.length]);
        perms.push([lead.length, ...lead.map((_, i) => i)]);
        for (const perm of perms) {
          const got = kernel(a, perm);
          const want = transpose(a, perm);
          expect(got.shape).toEqual(want.shape);
          expect(Array.from(got.data)).toEqual(Array.from(want.data));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('takes more leading axes than the native odometer holds (9 + the run axis)', () => {
    const dims = [2, 1, 2, 1, 2, 1, 2, 1, 2, 3];
    const a = new CpuTensor('x', 'f32', dims, Float32Array.from({ length: 96 }, (_, i) => i));
    const perm = [8, 7, 6, 5, 4, 3, 2, 1, 0, 9];
    expect(Array.from(kernel(a, perm).data)).toEqual(Array.from(transpose(a, perm).data));
  });
}

describe('transposeRuns', () => equalsReference((a, perm) => transposeRuns(a, perm)));
describeOverNativeKernels(loadNativeKernels(), 'transposeRuns', (native: NativeKernels) => equalsReference(nativeTransposeRuns(native)));

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}
