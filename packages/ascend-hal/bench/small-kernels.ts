/**
 * The kernels of the 2026-12-01 change, each against the path it replaced, in one process and in
 * interleaved rounds (timing.ts), at the sizes of a moge-small training step (4 × 256 tokens, top-4,
 * hidden 256) and of a batch-32 decode step:
 * - tiny products side by side: the WebAssembly kernels (small-batched-matmul.ts) against the
 *   OpenBLAS/onnxruntime path behind them;
 * - `sum` over a leading axis: one sgemv per block (blas-sum.ts) against the reference's float64 loop;
 * - `gatherRows` broadcasting one row: the doubling fill against a copy per row (the loop it replaced,
 *   kept here as the baseline).
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE npx tsx --conditions=@moge/source bench/small-kernels.ts
 */
import { loadOpenBlas } from '../src/backend/blas/openblas';
import { blasKernels, BLAS_SMALL_MATMUL_MACS } from '../src/backend/blas/blas-kernels';
import { blasSum } from '../src/backend/blas/blas-sum';
import { createCpuBackend } from '../src/backend/cpu/cpu-backend';
import type { CpuTensor } from '../src/backend/cpu/cpu-tensor';
import { ConstSessionCache } from '../src/backend/onnxruntime/const-session-cache';
import { createOnnxBackend } from '../src/backend/node-index';
import { onnxKernels } from '../src/backend/onnxruntime/ort-kernels';
import { SessionCache } from '../src/backend/onnxruntime/session-cache';
import { wasmKernelModule } from '../src/backend/wasm/kernel-module';
import { smallBatchedMatmul } from '../src/backend/wasm/small-batched-matmul';
import { measureInterleaved, pairedRatio, type Variant } from './timing';

const loaded = loadOpenBlas();
if (!loaded.ok) throw new Error(`no OpenBLAS to measure: ${loaded.reason}`);
createOnnxBackend({ intraOpThreads: 1 }); // the process-wide output allocator and memory policy, as in use
const options = { intraOpThreads: 1 };
const gemm = blasKernels(loaded.blas, onnxKernels(new SessionCache(options), new ConstSessionCache(options)), BLAS_SMALL_MATMUL_MACS);
const before = createCpuBackend('b', gemm);
const after = createCpuBackend('b', { ...smallBatchedMatmul(wasmKernelModule()!, gemm), ...blasSum(loaded.blas) });
const values = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(salt + i * 0.37));
const ROUNDS = 9;
const CALLS = 20;

async function compare(label: string, variants: [Variant, Variant]): Promise<void> {
  const [newer, older] = await measureInterleaved(variants, CALLS, ROUNDS);
  const us = (s: number) => (s * 1e6).toFixed(1);
  console.log(`${label.padEnd(44)} ${us(older!.medianS).padStart(8)} µs → ${us(newer!.medianS).padStart(8)} µs   old/new ${pairedRatio(older!, newer!).toFixed(2)}`);
}

function product(label: string, a: number[], b: number[], o: { transA?: boolean; transB?: boolean }): Promise<void> {
  const [ad, bd] = [values(a.reduce((p, d) => p * d, 1), 1), values(b.reduce((p, d) => p * d, 1), 2)];
  const run = (be: typeof before) => {
    const [x, y] = [be.fromArray(ad, a), be.fromArray(bd, b)];
    return () => be.matmul(x, y, o);
  };
  return compare(label, [{ name: 'new', call: run(after) }, { name: 'old', call: run(before) }]);
}

console.log(`one thread, OpenBLAS ${loaded.blas.coreName}; median of ${ROUNDS} interleaved rounds of ${CALLS} calls; old/new = median per-round ratio`);
await product('combine 1024 × [1×4]·[4×256]', [1024, 1, 4], [1024, 4, 256], {});
await product('combine backward, outer 1024 × [4×1]·[1×256]', [1024, 1, 4], [1024, 1, 256], { transA: true });
await product('combine backward, dots 1024 × [1×256]·[256×4]', [1024, 1, 256], [1024, 4, 256], { transB: true });
await product('decode b32 combine 32 × [1×4]·[4×256]', [32, 1, 4], [32, 4, 256], {});
for (const [rows, cols] of [[1024, 256], [1024, 128]]) {
  const d = values(rows * cols, 3);
  const sum = (be: typeof before) => {
    const t = be.fromArray(d, [rows, cols]);
    return () => be.sum(t, 0);
  };
  await compare(`sum over rows [${rows}×${cols}]`, [{ name: 'new', call: sum(after) }, { name: 'old', call: sum(before) }]);
}
{
  const table = after.fromArray(values(16, 4), [1, 16]) as CpuTensor;
  const index = new Int32Array(1024);
  const perRow = () => {
    const out = new Float32Array(index.length * 16);
    for (let i = 0; i < index.length; i++) out.set(table.data.subarray(index[i]! * 16, index[i]! * 16 + 16), i * 16);
    return out;
  };
  await compare('gatherRows [1×16] to 1024 rows', [{ name: 'new', call: () => after.gatherRows(table, index) }, { name: 'old', call: perRow }]);
}
