/**
 * SwiGLU and its backward on moge's native library (native/swiglu.c): the WebAssembly kernels'
 * arithmetic without copying the operands into the module's memory and back. The backward runs
 * there at every size (1.5–1.6× as fast from 16 k to 1 M elements); the forward from
 * SWIGLU_NATIVE_MIN elements, below which the backend's own choice (onnxruntime's AVX-512 sigmoid,
 * or WebAssembly for tiny ones) is faster. Malformed or non-f32 operands go to the reference
 * kernels, which produce the errors.
 */
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor, sameShape } from '../cpu/cpu-tensor';
import { swiglu as jsSwiglu, swigluBackward as jsSwigluBackward } from '../reference/elementwise';
import type { NativeKernels } from './native-kernels';

/**
 * SwiGLU of at least this many elements runs natively. Measured: at 64 k and 128 k elements on warm
 * data onnxruntime took 0.05 and 0.08 ms against 0.08 and 0.17 natively; in a moge-small training
 * step (experts 1 M elements, shared expert 0.5 M) the step ran 1.02× as fast (0.95–1.22 over 16
 * alternating pairs) with the forward native from 256 k, whose outputs the backend pools, where
 * onnxruntime's are fresh memory for the garbage collector each time.
 */
export const SWIGLU_NATIVE_MIN = 1 << 18;

const sameShapes = (a: CpuTensor, ...rest: CpuTensor[]) => rest.every((t) => sameShape(a.shape, t.shape));

export function nativeSwigluKernels(
  native: Pick<NativeKernels, 'swiglu' | 'swigluBackward'>,
  smaller: Pick<CpuKernelOverrides, 'swiglu'>,
): Required<Pick<CpuKernelOverrides, 'swiglu' | 'swigluBackward'>> {
  const fallback = smaller.swiglu ?? jsSwiglu;
  return {
    swiglu(gate, up) {
      if (gate.size < SWIGLU_NATIVE_MIN || gate.size >= 2 ** 31 || !allF32(gate, up) || !sameShapes(gate, up)) return fallback(gate, up);
      const y = allocateOutputF32(gate.size);
      native.swiglu(gate.data as Float32Array, up.data as Float32Array, y);
      return new CpuTensor(gate.backend, 'f32', gate.shape, y);
    },

    swigluBackward(gate, up, dy) {
      if (gate.size >= 2 ** 31 || !allF32(gate, up, dy) || !sameShapes(gate, up, dy)) return jsSwigluBackward(gate, up, dy);
      const dg = allocateOutputF32(gate.size);
      const du = allocateOutputF32(gate.size);
      native.swigluBackward(gate.data as Float32Array, up.data as Float32Array, dy.data as Float32Array, dg, du);
      return [new CpuTensor(gate.backend, 'f32', gate.shape, dg), new CpuTensor(gate.backend, 'f32', gate.shape, du)];
    },
  };
}
