/**
 * affine, axpyInPlace and RMSNorm (with its backward) on moge's native library
 * (native/pointwise-tile.h, per instruction set), reading and writing the arrays in place. Why: the
 * WebAssembly kernels they replace copy every operand into the module's memory and back, and in a
 * training step the loss gradient's affine over the [1024 × 4096] softmax (32 MB through the
 * module's memory) took ≈ 50 ms in one step of two, 2.6 in the other (packages/model/bench/op-profile.ts
 * with SHAPES=1). Below NATIVE_POINTWISE_MIN elements, and for anything the native kernels do not
 * take (non-f32, shapes the reference refuses), the kernels they stand in front of run instead (the
 * reference kernels where there are none: they produce the errors).
 */
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor, sameShape } from '../cpu/cpu-tensor';
import { affine as jsAffine, axpyInPlace as jsAxpy } from '../reference/elementwise';
import { rmsNorm as jsRmsNorm, rmsNormBackward as jsRmsNormBackward } from '../reference/norm';
import { fitsNativeCount, type NativeKernels } from './native-kernels';

type Pointwise = Pick<NativeKernels, 'affine' | 'axpy' | 'rmsNormRows' | 'rmsNormBackwardRows'>;
type Kernels = Pick<CpuKernelOverrides, 'affine' | 'axpyInPlace' | 'rmsNorm' | 'rmsNormBackward'>;

/**
 * Below this many elements the kernels behind run (WebAssembly's, on the onnxruntime backend): a call
 * through koffi costs ≈ 0.5 µs more, which a kernel over a decode step's [1 × 256] never wins back
 * (rmsNorm 1.5 vs 1.0 µs, affine 0.5 vs 0.4), while from [32 × 256] on native wins (rmsNorm 5.0 vs
 * 8.4, affine 2.0 vs 6.0; [1024 × 256] axpy 16 vs 85, rmsNorm 103 vs 232).
 */
export const NATIVE_POINTWISE_MIN = 1024;

/** Rows and columns of x for a [cols] weight, or null where the native kernels do not take them. */
function normRows(x: CpuTensor, weight: CpuTensor): { rows: number; cols: number } | null {
  if (!allF32(x, weight) || x.shape.length === 0 || weight.shape.length !== 1) return null;
  const cols = x.shape[x.shape.length - 1]!;
  if (weight.shape[0] !== cols || cols === 0) return null;
  return { rows: x.size / cols, cols };
}

export function nativePointwise(native: Pointwise, inner: Kernels = {}): Required<Kernels> {
  const fallback: Required<Kernels> = {
    affine: inner.affine ?? jsAffine,
    axpyInPlace: inner.axpyInPlace ?? jsAxpy,
    rmsNorm: inner.rmsNorm ?? jsRmsNorm,
    rmsNormBackward: inner.rmsNormBackward ?? jsRmsNormBackward,
  };
  const large = (t: CpuTensor) => t.size >= NATIVE_POINTWISE_MIN && fitsNativeCount(t.size);
  return {
    affine(a, scale, shift = 0) {
      if (!allF32(a) || !large(a)) return fallback.affine(a, scale, shift);
      const y = allocateOutputF32(a.size);
      native.affine(a.data as Float32Array, y, scale, shift);
      return new CpuTensor(a.backend, 'f32', a.shape, y);
    },
    axpyInPlace(dst, src, alpha = 1) {
      if (!allF32(dst, src) || !sameShape(dst.shape, src.shape) || !large(dst)) return fallback.axpyInPlace(dst, src, alpha);
      native.axpy(dst.data as Float32Array, src.data as Float32Array, alpha);
    },
    rmsNorm(x, weight, eps) {
      const dims = large(x) ? normRows(x, weight) : null;
      if (!dims) return fallback.rmsNorm(x, weight, eps);
      const [y, inv] = [allocateOutputF32(x.size), allocateOutputF32(dims.rows)];
      native.rmsNormRows(x.data as Float32Array, weight.data as Float32Array, y, inv, dims.rows, dims.cols, eps);
      return { y: new CpuTensor(x.backend, 'f32', x.shape, y), invRms: new CpuTensor(x.backend, 'f32', x.shape.slice(0, -1), inv) };
    },
    rmsNormBackward(x, weight, invRms, dy) {
      const dims = large(x) ? normRows(x, weight) : null;
      if (!dims || !allF32(invRms, dy) || !sameShape(dy.shape, x.shape) || invRms.size !== dims.rows) return fallback.rmsNormBackward(x, weight, invRms, dy);
      const dx = allocateOutputF32(x.size);
      const dw = new Float64Array(dims.cols);
      native.rmsNormBackwardRows(x.data as Float32Array, weight.data as Float32Array, invRms.data as Float32Array, dy.data as Float32Array, dx, dw, dims.rows, dims.cols);
      return { dx: new CpuTensor(x.backend, 'f32', x.shape, dx), dWeight: new CpuTensor(x.backend, 'f32', [dims.cols], Float32Array.from(dw)) };
    },
  };
}
