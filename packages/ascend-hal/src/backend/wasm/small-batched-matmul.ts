/**
 * Routes products made of many tiny per-batch matrices to the WebAssembly kernels of
 * small-matmul-kernels.ts where they beat the path behind them, and every other product to `inner`.
 * Measured in one process, interleaved rounds (bench/small-kernels.ts and the crossover runs of
 * 2026-12-01, warm operands, one thread, old time / new):
 * - up to 64 products, where OpenBLAS's routing loops over sgemm (≈ 1.5 µs a call): 1.4–1.8× for
 *   [1×4]·[4×256] (a batch-32 decode step's MoE combine: 34.6 → 11.5 µs), 2.1–3.1× for [1×256]·[256×4]ᵀ,
 *   1.1–1.2× for [1×64]·[64×64], 2.0–2.6× for [2×32]·[32×32];
 * - outer products (k = 1) at any count, which run in a JS loop otherwise (onnxruntime's batched
 *   MatMul was slower still): the training step's combine backward 1 024 × [4×1]·[1×256], 2.0 → 0.53 ms;
 * - beyond 64 products onnxruntime's batched MatMul reads the operands in place while the kernels copy
 *   them in: 0.4–1.0× from 65 to 1 024 products, so those stay with `inner` (a training step's
 *   combine 1 024 × [1×4]·[4×256] 267 µs there against 349, its dot products 130 against 244).
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
/** More products than this (outer products aside) run faster as onnxruntime's batched MatMul. */
export const SMALL_MATMUL_MAX_BATCH = 64;

/**
 * The kernels' form of `p`, or null when they do not take it. A transposed A is accepted only where
 * transposing does not move memory (m = 1 or k = 1); B is [k, n] with n a multiple of 4, or [n, k]
 * with k a multiple of 4 (transposed, or k = 1, where [n, 1] is the same memory as [1, n]).
 */
export function smallMatmulForm(p: MatmulProblem): SmallMatmuls | null {
  const perBatch = p.bBatched || (p.aBatched && p.transA);
  if (!perBatch || p.batch < SMALL_MATMUL_MIN_BATCH || p.m * p.k * p.n > SMALL_MATMUL_MAX_MACS || p.m * p.k * p.n === 0) return null;
  if (p.batch > SMALL_MATMUL_MAX_BATCH && p.k !== 1) return null;
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
