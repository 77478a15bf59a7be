import fc from 'fast-check';
import { expect, it } from 'vitest';
import { affine, axpyInPlace } from '../reference/elementwise';
import { rmsNorm, rmsNormBackward } from '../reference/norm';
import { loadNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverVectorIsas, expectCloseTensor, f32TensorAt } from './native-kernels.test-support';
import { NATIVE_POINTWISE_MIN, nativePointwise } from './native-pointwise';

const values = (count: number, salt: number) => Array.from({ length: count }, (_, i) => 2 * Math.sin(salt + i * 0.61));
// Rows enough to reach NATIVE_POINTWISE_MIN elements whatever the columns (1 to 70).
const norm = fc.record({ rows: fc.integer({ min: 1024, max: 1030 }), cols: fc.integer({ min: 1, max: 70 }), offset: fc.nat(3), salt: fc.nat(100) });

describeOverVectorIsas(loadNativeKernels(), 'affine, axpy and RMSNorm', (native: NativeKernels) => {
  const kernels = nativePointwise(native);

  it('affine and axpyInPlace give the reference values, any length (the vector tail included), on views (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: NATIVE_POINTWISE_MIN, max: NATIVE_POINTWISE_MIN + 70 }), fc.constantFrom(-0.5, 1, 3), fc.constantFrom(0, 0.25), fc.nat(3), (n, scale, shift, offset) => {
        const x = f32TensorAt([n], values(n, 1), offset);
        expectCloseTensor(kernels.affine(x, scale, shift), affine(x, scale, shift));
        const [got, want] = [f32TensorAt([n], values(n, 2), offset + 1), f32TensorAt([n], values(n, 2), 0)];
        kernels.axpyInPlace(got, x, scale);
        axpyInPlace(want, x, scale);
        expectCloseTensor(got, want);
      }),
      { numRuns: 100 },
    );
  });

  it('rmsNorm matches the reference (y and invRms), any rows and columns, on views (property)', () => {
    fc.assert(
      fc.property(norm, ({ rows, cols, offset, salt }) => {
        const x = f32TensorAt([rows, cols], values(rows * cols, salt), offset);
        const w = f32TensorAt([cols], values(cols, salt + 1), offset + 1);
        const [got, want] = [kernels.rmsNorm(x, w, 1e-5), rmsNorm(x, w, 1e-5)];
        expectCloseTensor(got.y, want.y);
        expectCloseTensor(got.invRms, want.invRms);
      }),
      { numRuns: 60 },
    );
  });

  it('rmsNormBackward matches the reference (dx, and dW summed over rows in double), on views (property)', () => {
    fc.assert(
      fc.property(norm, ({ rows, cols, offset, salt }) => {
        const x = f32TensorAt([rows, cols], values(rows * cols, salt), offset);
        const w = f32TensorAt([cols], values(cols, salt + 1), offset + 1);
        const { invRms } = rmsNorm(x, w, 1e-5);
        const dy = f32TensorAt([rows, cols], values(rows * cols, salt + 2), offset + 2);
        const [got, want] = [kernels.rmsNormBackward(x, w, invRms, dy), rmsNormBackward(x, w, invRms, dy)];
        expectCloseTensor(got.dx, want.dx, 1e-5);
        expectCloseTensor(got.dWeight, want.dWeight, 1e-5);
      }),
      { numRuns: 60 },
    );
  });

  it('at training size: RMSNorm and its backward over [1024 × 256]', () => {
    const x = f32TensorAt([1024, 256], values(1024 * 256, 3), 0);
    const w = f32TensorAt([256], values(256, 4), 0);
    const dy = f32TensorAt([1024, 256], values(1024 * 256, 5), 0);
    const [got, want] = [kernels.rmsNorm(x, w, 1e-5), rmsNorm(x, w, 1e-5)];
    expectCloseTensor(got.y, want.y);
    const [gotB, wantB] = [kernels.rmsNormBackward(x, w, want.invRms, dy), rmsNormBackward(x, w, want.invRms, dy)];
    expectCloseTensor(gotB.dx, wantB.dx, 1e-5);
    expectCloseTensor(gotB.dWeight, wantB.dWeight, 1e-5);
  });

  it('leaves products under NATIVE_POINTWISE_MIN elements to the kernels behind it', () => {
    const calls: string[] = [];
    const inner = nativePointwise(native, {
      affine: (a, scale, shift) => (calls.push('affine'), affine(a, scale, shift)),
      rmsNorm: (x, w, eps) => (calls.push('rmsNorm'), rmsNorm(x, w, eps)),
    });
    const small = f32TensorAt([4, 256], values(1024 - 1, 1).concat([0]), 0);
    const tiny = f32TensorAt([1, 256], values(256, 1), 0);
    inner.affine(tiny, 2);
    inner.rmsNorm(tiny, f32TensorAt([256], values(256, 2), 0), 1e-5);
    expect(calls).toEqual(['affine', 'rmsNorm']);
    inner.affine(small, 2);
    inner.rmsNorm(small, f32TensorAt([256], values(256, 2), 0), 1e-5);
    expect(calls).toEqual(['affine', 'rmsNorm']);
  });

  it('leaves what it does not take to the reference kernels, which name the problem', () => {
    const x = f32TensorAt([2, 3], values(6, 1), 0);
    expect(() => kernels.rmsNorm(x, f32TensorAt([2], values(2, 1), 0), 1e-5)).toThrow(/weight must be \[3\]/);
    expect(() => kernels.rmsNormBackward(x, f32TensorAt([3], values(3, 1), 0), f32TensorAt([1], [1], 0), x)).toThrow(/invRms must hold 2 rows/);
    expect(() => kernels.axpyInPlace(x, f32TensorAt([6], values(6, 1), 0))).toThrow(/axpyInPlace/);
  });
});
