/**
 * SwiGLU and its backward on moge's native library (native/pointwise-tile.h, per instruction set):
 * the WebAssembly kernels' arithmetic, AVX-512 16 lanes wide where the CPU has it, reading and
 * writing the arrays in place — the WebAssembly kernels copy every operand into the module's memory
 * and back, and onnxruntime's SwiGLU session costs a fixed ≈ 7 µs a call and a fresh output array.
 * Malformed or non-f32 operands go to the reference kernels, which produce the errors.
 */
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor, sameShape } from '../cpu/cpu-tensor';
import { swiglu as jsSwiglu, swigluBackward as jsSwigluBackward } from '../reference/elementwise';
import { fitsNativeCount, type NativeKernels } from './native-kernels';

export function nativeSwiglu(native: Pick<NativeKernels, 'swiglu' | 'swigluBackward'>): Required<Pick<CpuKernelOverrides, 'swiglu' | 'swigluBackward'>> {
  return {
    swiglu(gate, up) {
      if (!allF32(gate, up) || !sameShape(gate.shape, up.shape) || !fitsNativeCount(gate.size)) return jsSwiglu(gate, up);
      const y = allocateOutputF32(gate.size);
      native.swiglu(gate.data as Float32Array, up.data as Float32Array, y);
      return new CpuTensor(gate.backend, 'f32', gate.shape, y);
    },
    swigluBackward(gate, up, dy) {
      if (!allF32(gate, up, dy) || !sameShape(gate.shape, up.shape) || !sameShape(gate.shape, dy.shape) || !fitsNativeCount(gate.size)) {
        return jsSwigluBackward(gate, up, dy);
      }
      const dg = allocateOutputF32(gate.size);
      const du = allocateOutputF32(gate.size);
      native.swigluBackward(gate.data as Float32Array, up.data as Float32Array, dy.data as Float32Array, dg, du);
      return [new CpuTensor(gate.backend, 'f32', gate.shape, dg), new CpuTensor(gate.backend, 'f32', gate.shape, du)];
    },
  };
}
