import fc from 'fast-check';
import { expect, it } from 'vitest';
import { CpuTensor } from '../cpu/cpu-tensor';
import { swiglu, swigluBackward } from '../reference/elementwise';
import { loadNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverVectorIsas, viewAt } from './native-kernels.test-support';
import { nativeSwiglu } from './native-swiglu';

/** `values` as a view `offset` floats into a NaN-filled buffer, so a kernel that ignored byteOffset reads NaN. */
function tensorAt(values: number[], offset: number): CpuTensor {
  return new CpuTensor('x', 'f32', [values.length], viewAt(Float32Array.from(values), offset));
}

describeOverVectorIsas(loadNativeKernels(), 'SwiGLU', (native: NativeKernels) => {
  const { swiglu: forward, swigluBackward: kernel } = nativeSwiglu(native);

  it('forward matches the float64 reference within fp32 rounding, any length (the vector tail included), on views (property)', () => {
    const gate = fc.float({ min: -30, max: 30, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(gate, fc.float({ min: -4, max: 4, noNaN: true })), { maxLength: 40 }), fc.nat(3), (rows, offset) => {
        const [g, u] = [0, 1].map((k) => tensorAt(rows.map((r) => r[k]!), offset)) as [CpuTensor, CpuTensor];
        const [got, want] = [forward(g, u), swiglu(g, u)];
        expect(got.shape).toEqual(want.shape);
        for (let i = 0; i < rows.length; i++) expect(Math.abs(got.data[i]! - want.data[i]!)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want.data[i]!)));
      }),
      { numRuns: 200 },
    );
  });

  it('forward and backward match the reference over a dense grid of gates in [−12, 12] (every exp reduction)', () => {
    const count = 2401;
    const g = tensorAt(Array.from({ length: count }, (_, i) => -12 + i / 100), 1);
    const u = tensorAt(Array.from({ length: count }, (_, i) => 1 + (i % 7) / 7), 2);
    const dy = tensorAt(Array.from({ length: count }, (_, i) => 1 - (i % 5) / 5), 3);
    const pairs: [CpuTensor, CpuTensor][] = [[forward(g, u), swiglu(g, u)]];
    const [gotG, gotU] = kernel(g, u, dy);
    const [wantG, wantU] = swigluBackward(g, u, dy);
    pairs.push([gotG, wantG], [gotU, wantU]);
    for (const [got, want] of pairs) {
      for (let i = 0; i < count; i++) expect(Math.abs(got.data[i]! - want.data[i]!)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want.data[i]!)));
    }
  });

  it('forward keeps the extremes finite where the reference is, and NaN where the gate is NaN', () => {
    const g = tensorAt([-3e38, 3e38, -100, 100, -88.5, 88.5, 0, Number.NaN, 5], 1);
    const u = tensorAt([1, 1, 1, 1, 1, 1, 1, 1, 3e38], 2);
    const [got, want] = [forward(g, u), swiglu(g, u)];
    for (let i = 0; i < 9; i++) {
      const [a, b] = [got.data[i]!, want.data[i]!];
      if (Number.isNaN(b)) expect(a).toBeNaN();
      else if (!Number.isFinite(b)) expect(a).toBe(b);
      else expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b)));
    }
  });


  it('backward matches the float64 reference within fp32 rounding, any length (the vector tail included), on views (property)', () => {
    const gate = fc.float({ min: -30, max: 30, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(gate, fc.float({ min: -4, max: 4, noNaN: true }), fc.float({ min: -4, max: 4, noNaN: true })), { maxLength: 40 }), fc.nat(3), (rows, offset) => {
        const [g, u, dy] = [0, 1, 2].map((k) => tensorAt(rows.map((r) => r[k]!), offset)) as [CpuTensor, CpuTensor, CpuTensor];
        const [gotG, gotU] = kernel(g, u, dy);
        const [wantG, wantU] = swigluBackward(g, u, dy);
        for (const [got, want] of [[gotG, wantG], [gotU, wantU]] as const) {
          expect(got.shape).toEqual(want.shape);
          for (let i = 0; i < rows.length; i++) expect(Math.abs(got.data[i]! - want.data[i]!)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want.data[i]!)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('backward keeps the extremes finite where the reference is, and NaN where the gate is NaN', () => {
    const g = tensorAt([-3e38, 3e38, -100, 100, -88.5, 88.5, 0, Number.NaN], 1);
    const ones = tensorAt(new Array<number>(8).fill(1), 2);
    const [gotG, gotU] = kernel(g, ones, ones);
    const [wantG, wantU] = swigluBackward(g, ones, ones);
    for (const [got, want] of [[gotG, wantG], [gotU, wantU]] as const) {
      for (let i = 0; i < 8; i++) {
        const [a, b] = [got.data[i]!, want.data[i]!];
        if (Number.isNaN(b)) expect(a).toBeNaN();
        else expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b)));
      }
    }
  });

  it('leaves mismatched shapes to the reference kernel, which names them', () => {
    const a = new CpuTensor('x', 'f32', [2, 3], new Float32Array(6));
    const b = new CpuTensor('x', 'f32', [3, 2], new Float32Array(6));
    expect(() => kernel(a, b, a)).toThrow(/swigluBackward/);
  });
});
