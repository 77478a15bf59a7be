import fc from 'fast-check';
import { expect, it } from 'vitest';
import { CpuTensor } from '../cpu/cpu-tensor';
import { concatColumns, sliceColumns, writeColumns } from '../reference/indexing';
import { loadNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverNativeKernels, viewAt } from './native-kernels.test-support';

/** A [lead…, cols] tensor of f32 or i32 values on a view into a larger buffer. */
function tensor(lead: number[], cols: number, ints: boolean, offset: number, salt: number): CpuTensor {
  const size = lead.reduce((p, d) => p * d, 1) * cols;
  const data = ints ? viewAt(Int32Array.from({ length: size }, (_, i) => i * 3 - salt), offset, -7) : viewAt(Float32Array.from({ length: size }, (_, i) => Math.sin(i + salt)), offset);
  return new CpuTensor('x', ints ? 'i32' : 'f32', [...lead, cols], data);
}

const lead = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 });

describeOverNativeKernels(loadNativeKernels(), 'copyStrided (column slices, concatenations and writes)', (native: NativeKernels) => {
  it('sliceColumns and concatColumns give what the JS loop gives: f32 and i32, any leading axes, empty parts, views (property)', () => {
    fc.assert(
      fc.property(lead, fc.array(fc.nat(9), { minLength: 1, maxLength: 4 }), fc.boolean(), fc.nat(3), (axes, widths, ints, offset) => {
        const parts = widths.map((w, i) => tensor(axes, w, ints, offset + i, i));
        const [got, want] = [concatColumns(parts, native.copyStrided), concatColumns(parts)];
        expect(got.shape).toEqual(want.shape);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
        const total = want.shape[want.shape.length - 1]!;
        const start = Math.floor(total / 3);
        const width = total - start - Math.floor(total / 4);
        expect(Array.from(sliceColumns(want, start, width, native.copyStrided).data)).toEqual(Array.from(sliceColumns(want, start, width).data));
      }),
      { numRuns: 100 },
    );
  });

  it('writeColumns writes the same columns in place and leaves the others (property)', () => {
    fc.assert(
      fc.property(lead, fc.integer({ min: 1, max: 12 }), fc.nat(12), fc.boolean(), (axes, cols, width0, ints) => {
        const width = Math.min(width0, cols);
        const start = cols - width;
        const src = tensor(axes, width, ints, 1, 5);
        const [got, want] = [tensor(axes, cols, ints, 2, 9), tensor(axes, cols, ints, 2, 9)];
        writeColumns(got, src, start, native.copyStrided);
        writeColumns(want, src, start);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
      }),
      { numRuns: 100 },
    );
  });

  it('checks the columns before copying anything natively', () => {
    const a = tensor([2], 3, false, 0, 0);
    expect(() => sliceColumns(a, 2, 2, native.copyStrided)).toThrow(/columns \[2, 4\) are outside \[0, 3\)/);
    expect(() => writeColumns(a, tensor([2], 2, false, 0, 1), 2, native.copyStrided)).toThrow(/columns \[2, 4\) are outside \[0, 3\)/);
  });
});
