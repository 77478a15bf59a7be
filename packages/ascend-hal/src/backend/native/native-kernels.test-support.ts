import { describe } from 'vitest';
import { jsSgemm } from '../blas/js-blas.test-support';
import { CpuTensor } from '../cpu/cpu-tensor';
import { copyRuns } from '../cpu/fast-transpose';
import { swigluBackward } from '../reference/elementwise';
import { copyStridedJs } from '../reference/indexing';
import type { NativeKernels, NativeKernelsLoad } from './native-kernels';

/** The native kernels' contract in JS (through the JS sgemm): a stand-in where the library is not built. */
export const jsNativeKernels: NativeKernels = {
  gemvRows: (rows, k, alpha, w, ldw, x, beta, y) => jsSgemm(false, true, 1, rows, k, alpha, x, k, w, ldw, beta, y, rows),
  gemvColumns: (k, n, alpha, w, ldw, x, beta, y) => jsSgemm(false, false, 1, n, k, alpha, x, k, w, ldw, beta, y, n),
  gemvRowsGrouped: (groups, offsets, n, k, w, x, y) => {
    for (let g = 0; g < groups; g++) {
      const row = offsets[g]!;
      if (offsets[g + 1]! - row !== 1) continue;
      const out = y.subarray(row * n, (row + 1) * n);
      jsSgemm(false, true, 1, n, k, 1, x.subarray(row * k, (row + 1) * k), k, w.subarray(g * n * k, (g + 1) * n * k), k, 0, out, n);
    }
  },
  fewRowsTimesWt: (rows, n, k, w, x, bias, y) => {
    if (bias) for (let r = 0; r < rows; r++) y.set(bias, r * n);
    jsSgemm(false, true, rows, n, k, 1, x, k, w, k, bias ? 1 : 0, y, n);
  },
  fewRowsGrouped: (groups, offsets, n, k, w, x, y) => {
    for (let g = 0; g < groups; g++) {
      const [start, end] = [offsets[g]!, offsets[g + 1]!];
      if (end === start) continue;
      const out = y.subarray(start * n, end * n);
      jsSgemm(false, true, end - start, n, k, 1, x.subarray(start * k, end * k), k, w.subarray(g * n * k, (g + 1) * n * k), k, 0, out, n);
    }
  },
  batchedTimesWt: (batch, rows, n, k, w, x, y) => {
    for (let b = 0; b < batch; b++) {
      jsSgemm(false, true, rows, n, k, 1, x.subarray(b * rows * k), k, w.subarray(b * n * k), k, 0, y.subarray(b * rows * n, (b + 1) * rows * n), n);
    }
  },
  batchedTimesW: (batch, rows, k, n, w, x, y) => {
    for (let b = 0; b < batch; b++) {
      jsSgemm(false, false, rows, n, k, 1, x.subarray(b * rows * k), k, w.subarray(b * k * n), n, 0, y.subarray(b * rows * n, (b + 1) * rows * n), n);
    }
  },
  fewRowsIsa: () => 'js',
  fewRowsSelect: (isa) => isa === '',
  copyRuns: (src, dst, runs, run, shape, strides) => copyRuns(src, dst, runs, run, shape, strides),
  gatherRows: (table, dst, index, d) => {
    for (let i = 0; i < index.length; i++) for (let j = 0; j < d; j++) dst[i * d + j] = table[index[i]! * d + j]!;
  },
  copyStrided: (src, srcStride, dst, dstStride, rows, width) => copyStridedJs(src, srcStride, dst, dstStride, rows, width),
  swigluBackward: (g, u, dy, dg, du) => {
    const tensor = (data: Float32Array) => new CpuTensor('js', 'f32', [data.length], data);
    const [dGate, dUp] = swigluBackward(tensor(g), tensor(u), tensor(dy));
    dg.set(dGate.data);
    du.set(dUp.data);
  },
  library: 'js',
};

/**
 * `suite`'s tests over the built native library: run where it loads, and where it does not, collected
 * and reported as skipped under a title naming the reason (the JS stand-in only serves collection).
 */
export function describeOverNativeKernels(loaded: NativeKernelsLoad, title: string, suite: (kernels: NativeKernels) => void): void {
  describe.skipIf(!loaded.ok)(`${title} on the native library${loaded.ok ? '' : ` (not loaded: ${loaded.reason})`}`, () => suite(loaded.ok ? loaded.kernels : jsNativeKernels));
}

/**
 * `data` as a view `offset` elements into a larger buffer of the same type filled with `fill` (and a
 * few spare elements after it), so a kernel that ignored byteOffset, or wrote past the end, reads or
 * leaves the wrong values.
 */
export function viewAt<T extends Float32Array | Int32Array>(data: T, offset: number, fill: number = Number.NaN): T {
  const buffer = new (data.constructor as new (n: number) => T)(offset + data.length + 3).fill(fill);
  buffer.set(data, offset);
  return buffer.subarray(offset, offset + data.length) as T;
}
