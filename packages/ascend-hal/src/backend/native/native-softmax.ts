/**
 * Softmax over the last axis (causal or not) and its backward on moge's native library
 * (native/pointwise-tile.h, per instruction set, AVX-512 16 lanes wide where the CPU has it), reading
 * and writing the arrays in place: the WebAssembly kernels copy their operands into the module's
 * memory and back, and onnxruntime's session exponentiates the masked half of a causal block too.
 * A causal softmax computes only the visible columns. Anything the native kernels do not take
 * (non-f32, a causal softmax of rank < 2, malformed shapes) goes to the reference kernels, which
 * produce the errors.
 */
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor, sameShape } from '../cpu/cpu-tensor';
import { softmax as jsSoftmax, softmaxBackward as jsSoftmaxBackward } from '../reference/softmax';
import { fitsNativeCount, type NativeKernels } from './native-kernels';

/** Rows and columns of a tensor the native kernels take: rank ≥ 1, 1 to 2³¹ − 1 elements. */
function rowsOf(t: CpuTensor): { rows: number; cols: number } | null {
  if (t.shape.length === 0 || t.size === 0 || !fitsNativeCount(t.size)) return null;
  const cols = t.shape[t.shape.length - 1]!;
  return { rows: t.size / cols, cols };
}

export function nativeSoftmax(native: Pick<NativeKernels, 'softmaxRows' | 'softmaxBackwardRows'>): Required<Pick<CpuKernelOverrides, 'softmax' | 'softmaxBackward'>> {
  return {
    softmax(a, options) {
      const causal = options?.causal ?? false;
      const dims = allF32(a) && (!causal || a.shape.length >= 2) ? rowsOf(a) : null;
      if (!dims) return jsSoftmax(a, options);
      const y = allocateOutputF32(a.size);
      native.softmaxRows(a.data as Float32Array, y, dims.rows, dims.cols, causal ? a.shape[a.shape.length - 2]! : 0);
      return new CpuTensor(a.backend, 'f32', a.shape, y);
    },
    softmaxBackward(y, dy) {
      const dims = allF32(y, dy) && sameShape(y.shape, dy.shape) ? rowsOf(y) : null;
      if (!dims) return jsSoftmaxBackward(y, dy);
      const dx = allocateOutputF32(y.size);
      native.softmaxBackwardRows(y.data as Float32Array, dy.data as Float32Array, dx, dims.rows, dims.cols);
      return new CpuTensor(y.backend, 'f32', y.shape, dx);
    },
  };
}
