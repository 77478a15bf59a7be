/**
 * Routes products made of many tiny per-batch matrices (the MoE combine of a training step and its
 * backward) to the WebAssembly kernels of small-matmul-kernels.ts; every other product goes to
 * `inner`. Measured in a moge-small training step (bench/op-profile.ts, 1 024 tokens, top-4,
 * hidden 256), per call: the combine 1 024 × [1×4]·[4×256] 0.9 ms in onnxruntime's batched MatMul,
 * its backward outer products [4×1]·[1×256] 2.0 ms in JS and dot products [1×256]·[256×4] 0.6 ms.
 */
import type { MatmulOptions } from '../backend';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor } from '../cpu/cpu-tensor';
import { resolveMatmul, type MatmulProblem } from '../cpu/matmul-shapes';
import type { SmallMatmuls, WasmKernelModule } from './kernel-module';

type Matmul = Required<Pick<CpuKernelOverrides, 'matmul'>>;

/**
 * Per-product size limit. The kernels copy their operands in and out (≈ 0.3 ns an element), which
 * beats a ≈ 1.5 µs sgemm call only while a product does little work: at 16 384 multiply-adds the
 * attention of a batch-32 decode step (64 × [2×64]·[64×96] and [2×96]·[96×64], the keys and values
 * copied in whole) took 195 and 177 µs a call against 165 and 143 for a loop of sgemm calls.
 */
export const SMALL_MATMUL_MAX_MACS = 4096;
/** Fewer products than this loop over sgemm at ≈ 1.5 µs a call, which is as good. */
export const SMALL_MATMUL_MIN_BATCH = 16;

/**
 * The kernels' form of `p`, or null when they do not take it. A transposed A is accepted only where
 * transposing does not move memory (m = 1 or k = 1); B is [k, n] with n a multiple of 4, or [n, k]
 * with k a multiple of 4 (transposed, or k = 1, where [n, 1] is the same memory as [1, n]).
 */
export function smallMatmulForm(p: MatmulProblem): SmallMatmuls | null {
  const perBatch = p.bBatched || (p.aBatched && p.transA);
  if (!perBatch || p.batch < SMALL_MATMUL_MIN_BATCH || p.m * p.k * p.n > SMALL_MATMUL_MAX_MACS || p.m * p.k * p.n === 0) return null;
  if (p.transA && p.m > 1 && p.k > 1) return null;
  const base = { batch: p.batch, m: p.m, k: p.k, n: p.n, aBatched: p.aBatched, bBatched: p.bBatched };
  const bRowMajorKn = !p.transB || p.k === 1;
  if (bRowMajorKn && p.n % 4 === 0) return { ...base, transB: false };
  if (!bRowMajorKn && p.k % 4 === 0) return { ...base, transB: true };
  return null;
}

export function smallBatchedMatmul<K extends Matmul>(m: WasmKernelModule, inner: K): K {
  return {
    ...inner,
    matmul(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor {
      // Products per batch need a batched operand: 2-D products (every linear layer) go straight on,
      // without resolving their shapes twice.
      if (!allF32(a, b) || a.shape.length < 2 || b.shape.length < 2 || (a.shape.length < 3 && b.shape.length < 3)) return inner.matmul(a, b, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      const form = smallMatmulForm(p);
      if (!form) return inner.matmul(a, b, options);
      const out = allocateOutputF32(p.batch * p.m * p.n);
      m.smallMatmuls(a.data as Float32Array, b.data as Float32Array, out, form);
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },
  };
}
