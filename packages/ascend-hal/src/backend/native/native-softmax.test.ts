import fc from 'fast-check';
import { expect, it } from 'vitest';
import { CpuTensor } from '../cpu/cpu-tensor';
import { softmax, softmaxBackward } from '../reference/softmax';
import { loadNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverVectorIsas, expectCloseTensor, f32TensorAt } from './native-kernels.test-support';
import { nativeSoftmax } from './native-softmax';

describeOverVectorIsas(loadNativeKernels(), 'softmax', (native: NativeKernels) => {
  const kernels = nativeSoftmax(native);

  it('matches the float64 reference, causal or not, any [.., Sq, Sk] (Sq above and below Sk, the vector tail), on views (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.nat(3),
        fc.nat(100),
        (blocks, sq, sk, causal, offset, salt) => {
          const shape = [blocks, sq, sk];
          const a = f32TensorAt(shape, Array.from({ length: blocks * sq * sk }, (_, i) => 8 * Math.sin(salt + i * 0.71)), offset);
          expectCloseTensor(kernels.softmax(a, { causal }), softmax(a, { causal }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rows with a NaN are NaN, −∞ entries get 0, masked columns exactly 0, rows that see nothing all 0', () => {
    const a = f32TensorAt([4, 3], [1, Number.NaN, 2, -Infinity, 0, -Infinity, 5, 5, 5, 1, 2, 3], 1);
    expectCloseTensor(kernels.softmax(a), softmax(a));
    // Sq = 4 > Sk = 2: rows 0 and 1 see nothing.
    const b = f32TensorAt([1, 4, 2], [1, 2, 3, 4, 5, 6, 7, 8], 2);
    const got = kernels.softmax(b, { causal: true });
    expect(Array.from(got.data.subarray(0, 5))).toEqual([0, 0, 0, 0, 1]);
    expectCloseTensor(got, softmax(b, { causal: true }));
  });

  it('at training size: the causal [16 × 256 × 256] attention block and a [64 × 4096] loss block', () => {
    for (const [shape, causal] of [[[16, 256, 256], true], [[64, 4096], false]] as const) {
      const size = shape.reduce((p, d) => p * d, 1);
      const a = new CpuTensor('x', 'f32', [...shape], Float32Array.from({ length: size }, (_, i) => 6 * Math.sin(i * 0.37)));
      expectCloseTensor(kernels.softmax(a, { causal }), softmax(a, { causal }));
    }
  });

  it('backward matches the reference, any shape and the vector tail, on views (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), fc.nat(3), fc.nat(100), (rows, cols, offset, salt) => {
        const y = softmax(f32TensorAt([rows, cols], Array.from({ length: rows * cols }, (_, i) => 3 * Math.sin(salt + i)), 0));
        const yv = f32TensorAt([rows, cols], Array.from(y.data), offset);
        const dy = f32TensorAt([rows, cols], Array.from({ length: rows * cols }, (_, i) => Math.cos(salt + 2 * i)), offset + 1);
        expectCloseTensor(kernels.softmaxBackward(yv, dy), softmaxBackward(yv, dy), 1e-5);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves what it does not take to the reference kernels, which name the problem', () => {
    expect(() => kernels.softmax(f32TensorAt([3], [1, 2, 3], 0), { causal: true })).toThrow(/causal softmax needs/);
    expect(() => kernels.softmaxBackward(f32TensorAt([2, 2], [1, 2, 3, 4], 0), f32TensorAt([4], [1, 2, 3, 4], 0))).toThrow(/softmaxBackward/);
  });
});
