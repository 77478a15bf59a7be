import fc from 'fast-check';
import { expect, it } from 'vitest';
import { CpuTensor } from '../cpu/cpu-tensor';
import { gatherRows, scatterAddRows } from '../reference/indexing';
import { loadNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverNativeKernels, viewAt } from './native-kernels.test-support';

describeOverNativeKernels(loadNativeKernels(), 'gatherRows', (native: NativeKernels) => {
  it('copies the same rows as the JS loop: f32 and i32 tables, repeated and empty indices, views (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 70 }),
        fc.boolean(),
        fc.nat(3),
        fc.array(fc.nat(100), { maxLength: 40 }),
        (rows, d, ints, offset, picks) => {
          const size = rows * d;
          const data = ints ? viewAt(Int32Array.from({ length: size }, (_, i) => i * 3 - 50), offset, -7) : viewAt(Float32Array.from({ length: size }, (_, i) => Math.sin(i)), offset);
          const table = new CpuTensor('x', ints ? 'i32' : 'f32', [rows, d], data);
          const index = Int32Array.from(picks, (p) => p % rows);
          const got = gatherRows(table, index, native.gatherRows);
          const want = gatherRows(table, index);
          expect(got.shape).toEqual(want.shape);
          expect(got.dtype).toBe(want.dtype);
          expect(Array.from(got.data)).toEqual(Array.from(want.data));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('checks the indices before copying anything natively', () => {
    const table = new CpuTensor('x', 'f32', [2, 3], new Float32Array(6));
    expect(() => gatherRows(table, Int32Array.of(0, 2), native.gatherRows)).toThrow(/index\[1\] = 2 is outside \[0, 2\)/);
  });
});

describeOverNativeKernels(loadNativeKernels(), 'scatterAddRows', (native: NativeKernels) => {
  it('adds the same rows as the JS loop: repeated indices add up, views (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.nat(3), fc.array(fc.nat(100), { maxLength: 40 }), (rows, d, offset, picks) => {
        const table = () => new CpuTensor('x', 'f32', [rows, d], viewAt(Float32Array.from({ length: rows * d }, (_, i) => Math.cos(i)), offset));
        const src = new CpuTensor('x', 'f32', [picks.length, d], viewAt(Float32Array.from({ length: picks.length * d }, (_, i) => Math.sin(i)), offset + 1));
        const index = Int32Array.from(picks, (p) => p % rows);
        const [got, want] = [table(), table()];
        scatterAddRows(got, index, src, native.scatterAddRows);
        scatterAddRows(want, index, src);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
      }),
      { numRuns: 60 },
    );
  });

  it('checks the indices before adding anything natively', () => {
    const table = new CpuTensor('x', 'f32', [2, 3], new Float32Array(6));
    const src = new CpuTensor('x', 'f32', [2, 3], new Float32Array(6).fill(1));
    expect(() => scatterAddRows(table, Int32Array.of(0, 2), src, native.scatterAddRows)).toThrow(/index\[1\] = 2 is outside \[0, 2\)/);
    expect(Array.from(table.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
