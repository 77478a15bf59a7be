import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import type { CpuTensor } from '../cpu/cpu-tensor';
import type { WasmKernelName } from '../wasm/wasm-kernels';

type Ort = Pick<CpuKernelOverrides, 'swiglu' | 'softmax'>;
type Wasm = Partial<Pick<CpuKernelOverrides, WasmKernelName>>;

/**
 * SwiGLU of at least this many elements runs on onnxruntime, below on WebAssembly. Both pay for the
 * output array; onnxruntime's MLAS computes the sigmoid 16 lanes wide (AVX-512) where WebAssembly
 * SIMD has 4, while the WebAssembly path copies its two inputs in and the output out and has no
 * per-call fixed cost of ~7 µs. Measured with bench/elementwise.ts --rounds 5 (µs, onnxruntime vs
 * WebAssembly, loaded 2-core host): [4×256] 8.9 vs 2.4, [1×512] 8.1 vs 1.5, [32×512] 25 vs 33,
 * [128×256] 47 vs 59, [1024×512] 1177 vs 1341, [4096×256] 4442 vs 4240 (a tie at the top).
 */
export const SWIGLU_ORT_MIN = 8192;

/**
 * A softmax in which every row sees all its keys (non-causal, or causal with one query row, as in
 * decode) runs on onnxruntime from this many elements. Measured (onnxruntime vs WebAssembly):
 * [1024×4096] 13.6 vs 17.0 ms, [128×1×80] 23.7 vs 23.3 µs, [4×1×80] 9.2 vs 1.8 µs — and in decode the
 * key length grows every step, and onnxruntime's first run at a new shape costs ≈ 40 µs more than
 * the next ([128×1×Sk], Sk = 150..190 each once: ≈ 80–125 µs vs 40–70 µs on a second pass), which
 * WebAssembly does not pay. Hence a threshold well above the 10 k-element tie. A causal softmax over
 * several query rows always runs on WebAssembly, which skips the masked half (onnxruntime adds a −∞
 * mask and exponentiates all of it): [16×256×256] 3.8 vs 2.0 ms.
 */
export const SOFTMAX_ORT_MIN = 65536;

/**
 * The memory-bound kernels of the onnxruntime backend: WebAssembly where it wins, onnxruntime for
 * large SwiGLU and full-row softmax (see the constants above). Every other kernel in `wasm` (SwiGLU
 * backward, softmax backward, RMSNorm and its backward, RoPE, axpy, affine, scatterAddRows) measured faster on
 * WebAssembly at every size of the moge-small workloads (bench/elementwise.ts). Without WebAssembly
 * (`wasm` empty), onnxruntime's graphs and the JS kernels stay as they were.
 */
export function chooseElementwiseKernels(ort: Ort, wasm: Wasm): CpuKernelOverrides {
  const wasmSwiglu = wasm.swiglu;
  const wasmSoftmax = wasm.softmax;
  const chosen: CpuKernelOverrides = { ...ort, ...wasm };
  if (wasmSwiglu && ort.swiglu) {
    const ortSwiglu = ort.swiglu;
    chosen.swiglu = (gate: CpuTensor, up: CpuTensor) => (gate.size >= SWIGLU_ORT_MIN ? ortSwiglu(gate, up) : wasmSwiglu(gate, up));
  }
  if (wasmSoftmax && ort.softmax) {
    const ortSoftmax = ort.softmax;
    chosen.softmax = (a: CpuTensor, options?: { causal?: boolean }) => {
      const rank = a.shape.length;
      // causal with one query row per block: the row sees every key (Sk ≥ 1), i.e. a plain softmax
      const fullRows = !options?.causal || (rank >= 2 && a.shape[rank - 2] === 1 && (a.shape[rank - 1] ?? 0) > 0);
      return fullRows && a.size >= SOFTMAX_ORT_MIN ? ortSoftmax(a) : wasmSoftmax(a, options);
    };
  }
  return chosen;
}
