import { parseWith } from '@moge/core';
import { z } from 'zod';
import type { Backend } from '../backend';
import { createCpuBackend } from '../cpu/cpu-backend';
import { collectAllocations, recycle } from '../cpu/buffer-recycling';
import { useOutputAllocator, type CpuTensor } from '../cpu/cpu-tensor';
import { uninitializedAllocator } from '../cpu/uninitialized-allocator';
import { nativeTransposeRuns, transposeRuns } from '../cpu/fast-transpose';
import { onnxElementwiseKernels } from './ort-elementwise';
import { wasmKernels } from '../wasm/wasm-kernels';
import { chooseElementwiseKernels } from './elementwise-choice';
import { onnxKernels } from './ort-kernels';
import { BLAS_SMALL_MATMUL_MACS, blasKernels } from '../blas/blas-kernels';
import { blasSum } from '../blas/blas-sum';
import { wasmKernelModule } from '../wasm/kernel-module';
import { smallBatchedMatmul } from '../wasm/small-batched-matmul';
import { loadOpenBlas } from '../blas/openblas';
import { withNativeBatchedFewRows, withNativeFewRows, withNativeOneRowProducts } from '../blas/native-products';
import { loadNativeKernels } from '../native/native-kernels';
import { nativePointwise } from '../native/native-pointwise';
import { nativeSoftmax } from '../native/native-softmax';
import { nativeSwiglu } from '../native/native-swiglu';
import { SessionCache } from './session-cache';
import { bf16WeightStore } from '../wasm/bf16-weight-store';
import { bf16WeightKernels } from '../wasm/bf16-weight-kernels';
import { ConstSessionCache } from './const-session-cache';
import { retainFreedMemory } from '../host/retain-freed-memory';
import { loadOnnxRuntime } from './ort-native';
import { scatterAddRows } from '../reference/indexing';

export const OnnxBackendOptionsSchema = z
  .object({
    /** Threads of onnxruntime's intra-op pool; left out, onnxruntime picks (one per physical core). */
    intraOpThreads: z.number().int().min(1).max(1024).optional(),
    /**
     * Matmuls of at most this many multiply-adds run in JS, where a native call's fixed cost would
     * dominate; 0 sends every matmul native. Default 2048 on onnxruntime, 128 on OpenBLAS (measured
     * crossovers).
     */
    smallMatmulMacs: z.number().int().min(0).optional(),
    /**
     * Without the WebAssembly kernels: SwiGLU, softmax and their backwards and RMSNorm's backward run
     * on onnxruntime for tensors of at least this many elements, smaller ones in JS. Default 2048; 0
     * sends every size native. With them, it only gates what elementwise-choice.ts sends native.
     */
    nativeElementwiseMin: z.number().int().min(0).optional(),
    /**
     * Memory-bound kernels (SwiGLU, softmax, RMSNorm and their backwards, RoPE, axpy, affine,
     * scatterAddRows) on WebAssembly SIMD where that measured faster (see elementwise-choice.ts).
     * Default true; false keeps the onnxruntime graphs and JS kernels (for comparison).
     */
    wasmKernels: z.boolean().optional(),
    /**
     * Offer `collectAllocations` / `recycle`, so that a model hands its dead activations' buffers back
     * for reuse (buffer-recycling.ts). Default true; false leaves every buffer to the garbage collector
     * (for comparison).
     */
    recycleBuffers: z.boolean().optional(),
    /**
     * Matmuls, matmuls with bias and grouped matmuls on OpenBLAS's sgemm (through koffi) when the
     * library loads — faster than onnxruntime's MLAS here and ≈ 1 µs a call (blas/openblas.ts).
     * Default true; false, or no OpenBLAS on the machine (see gemmLibrary()), keeps onnxruntime's.
     * OpenBLAS gets `intraOpThreads` threads when that is set.
     */
    openBlas: z.boolean().optional(),
    /**
     * moge's own native kernels (native/*.c, built at install when a C compiler is present): with
     * OpenBLAS, one-row products (a batch-1 decode step's) on prefetching kernels that stream the
     * weights ≈ 1.5× as fast as OpenBLAS's sgemv on one core; the transposes and row gathers as
     * memcpy runs instead of a JS view per run; and SwiGLU's backward without WebAssembly's copies.
     * Default true; false, or no built library (see nativeKernelsStatus()), keeps OpenBLAS's sgemv,
     * the JS copies and the WebAssembly kernel.
     */
    nativeKernels: z.boolean().optional(),
    /**
     * Constant weight matrices whose values are all bf16 (a bf16 checkpoint's, loaded as f32) also
     * keep a bf16 copy, and one-row products against them — a batch-1 decode step's — read that
     * copy: half the bytes, the same numbers (bf16-weight-store.ts). Costs the copy's memory (half the
     * f32 size). Default true; false keeps every product on f32 (for comparison).
     */
    bf16Weights: z.boolean().optional(),
    /**
     * Freed memory stays in the process for reuse instead of going back to the OS (glibc's mallopt,
     * process-wide, once: host/retain-freed-memory.ts): large tensors then stop costing a page fault
     * per 4 KiB on every step. Resident memory stays at its peak. Default true on Linux with glibc;
     * false leaves the allocator alone.
     */
    retainFreedMemory: z.boolean().optional(),
  })
  .strict();

export type OnnxBackendOptions = z.input<typeof OnnxBackendOptionsSchema>;

/**
 * The `onnxruntime` backend (Node only): matmul, grouped matmul and its weight gradient run as ONNX
 * graphs on onnxruntime's CPU provider (MLAS kernels), in sessions cached per layout. The
 * memory-bound kernels (SwiGLU, softmax, RMSNorm, their backwards, RoPE, axpy, affine, row
 * scatter-add) run on WebAssembly SIMD or onnxruntime graphs, whichever measured faster at the size
 * (elementwise-choice.ts).
 * Tiny matmuls and the rest — top-k, gathers, reductions — run the reference kernels in JS: a native
 * call (≈ 7 µs of fixed cost measured on an idle 2-core host) would cost more than the arithmetic.
 * Its tensors are typed arrays like the reference backend's, stamped 'onnxruntime'.
 * Creating one makes kernel outputs that are written in full skip the zero fill (Node's
 * uninitialized buffers, uninitialized-allocator.ts), process-wide: the reference kernels that run
 * here gain too, and none of those outputs is read before it is written. Those buffers can be handed
 * back for reuse (`collectAllocations` / `recycle`, buffer-recycling.ts).
 */
export function createOnnxBackend(options: OnnxBackendOptions = {}): Backend {
  const parsed = parseWith(OnnxBackendOptionsSchema, options, 'onnxruntime backend options');
  // Fails here, naming the package to install, rather than at the first kernel.
  loadOnnxRuntime();
  useOutputAllocator(uninitializedAllocator);
  if (parsed.retainFreedMemory !== false) retainFreedMemory();
  const sessionOptions = parsed.intraOpThreads === undefined ? {} : { intraOpThreads: parsed.intraOpThreads };
  const cache = new SessionCache(sessionOptions);
  const constCache = new ConstSessionCache(sessionOptions);
  const kernelOptions = parsed.smallMatmulMacs === undefined ? {} : { smallMatmulMacs: parsed.smallMatmulMacs };
  const ort = onnxElementwiseKernels(cache, parsed.nativeElementwiseMin);
  const elementwise = parsed.wasmKernels === false ? ort : chooseElementwiseKernels(ort, wasmKernels());
  const ortGemm = onnxKernels(cache, constCache, kernelOptions);
  const blas = parsed.openBlas === false ? undefined : loadOpenBlas();
  if (blas?.ok && parsed.intraOpThreads !== undefined) blas.blas.setThreads(parsed.intraOpThreads);
  const loadedNative = parsed.nativeKernels === false ? undefined : loadNativeKernels();
  const native = loadedNative?.ok ? loadedNative.kernels : undefined;
  // The one-row products replace OpenBLAS's sgemv, so they come with OpenBLAS (MLAS's sessions stay whole).
  const gemmBlas = blas?.ok ? (native ? withNativeOneRowProducts(blas.blas, native) : blas.blas) : undefined;
  const blasGemm = gemmBlas ? blasKernels(gemmBlas, ortGemm, parsed.smallMatmulMacs ?? BLAS_SMALL_MATMUL_MACS) : ortGemm;
  const f32Gemm = native && gemmBlas ? withNativeFewRows(blasGemm, native) : blasGemm;
  const bf16Store = parsed.bf16Weights === false ? null : bf16WeightStore();
  const rowGemm = bf16Store ? bf16WeightKernels(bf16Store, f32Gemm) : f32Gemm;
  const wasmModule = parsed.wasmKernels === false ? null : wasmKernelModule();
  const smallGemm = wasmModule ? smallBatchedMatmul(wasmModule, rowGemm) : rowGemm;
  const gemm = native ? withNativeBatchedFewRows(smallGemm, native) : smallGemm;
  const reductions = blas?.ok ? blasSum(blas.blas) : {};
  const nativeOnly = native
    ? {
        transpose: nativeTransposeRuns(native),
        gatherRowsCopy: native.gatherRows,
        copyStrided: native.copyStrided,
        scatterAddRows: (dst: CpuTensor, index: Int32Array, src: CpuTensor) => scatterAddRows(dst, index, src, native.scatterAddRows),
        ...nativeSwiglu(native),
        ...nativeSoftmax(native),
        ...nativePointwise(native, elementwise),
      }
    : { transpose: transposeRuns };
  const backend = createCpuBackend('onnxruntime', { ...elementwise, ...nativeOnly, ...gemm, ...reductions });
  return parsed.recycleBuffers === false ? backend : { ...backend, collectAllocations, recycle };
}

/**
 * Which library the onnxruntime backend's matmuls use on this machine by default: OpenBLAS (with the
 * library loaded and the kernel family it runs) or onnxruntime's MLAS (with the reason OpenBLAS did not load).
 */
export function gemmLibrary(): { library: 'openblas'; path: string; coreName: string } | { library: 'mlas'; reason: string } {
  const blas = loadOpenBlas();
  return blas.ok ? { library: 'openblas', path: blas.blas.library, coreName: blas.blas.coreName } : { library: 'mlas', reason: blas.reason };
}

/**
 * Whether the onnxruntime backend's one-row and few-row products run on moge's native kernels on
 * this machine by default (the library loaded, where from, and the instruction set of its vector
 * kernels: "avx512", "avx2" or "baseline"), or why they stay on OpenBLAS and onnxruntime.
 */
export function nativeKernelsStatus(): { loaded: true; path: string; vectorIsa: string } | { loaded: false; reason: string } {
  const native = loadNativeKernels();
  return native.ok ? { loaded: true, path: native.kernels.library, vectorIsa: native.kernels.vectorIsa() } : { loaded: false, reason: native.reason };
}
