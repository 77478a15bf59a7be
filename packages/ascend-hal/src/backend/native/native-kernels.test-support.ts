import { describe } from 'vitest';
import { jsSgemm } from '../blas/js-blas.test-support';
import { CpuTensor } from '../cpu/cpu-tensor';
import { swigluBackward } from '../reference/elementwise';
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
  copyRuns: (src, dst, runs, run, shape, strides) => {
    const coord = new Array<number>(shape.length).fill(0);
    let from = 0;
    for (let r = 0; r < runs; r++) {
      for (let j = 0; j < run; j++) dst[r * run + j] = src[from + j]!;
      for (let ax = shape.length - 1; ax >= 0; ax--) {
        coord[ax]!++;
        from += strides[ax]!;
        if (coord[ax]! < shape[ax]!) break;
        from -= strides[ax]! * coord[ax]!;
        coord[ax] = 0;
      }
    }
  },
  gatherRows: (table, dst, index, d) => {
    for (let i = 0; i < index.length; i++) for (let j = 0; j < d; j++) dst[i * d + j] = table[index[i]! * d + j]!;
  },
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
