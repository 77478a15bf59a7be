/**
 * The measurements behind FEW_ROWS_MAX (src/backend/blas/native-products.ts): products of a few
 * rows against a [N, K] weight — dense, and grouped over 16 experts — on the native few-row kernel
 * against what the onnxruntime backend runs without it: onnxruntime's pre-packed session for a
 * frozen (constant) weight, OpenBLAS's sgemm for an ordinary one. One thread. The weights rotate
 * over copies of ≥ 64 MB in all, so each call reads its weight from memory, as a decode step does.
 *
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE npx tsx --conditions=@moge/source bench/few-rows.ts
 *
 * Prints µs a call (median of interleaved rounds) per variant, and which instantiation ran.
 */
import type { Backend, Tensor } from '../src/backend/backend';
import { loadNativeKernels } from '../src/backend/native/native-kernels';
import { createOnnxBackend } from '../src/backend/node-index';
import { measureInterleaved, type Variant } from './timing';

const native = loadNativeKernels();
if (!native.ok) throw new Error(`no native kernels to measure: ${native.reason}`);
const withNative = createOnnxBackend({ intraOpThreads: 1 });
const without = createOnnxBackend({ intraOpThreads: 1, nativeKernels: false });
const ROUNDS = 7;
const COLD_BYTES = 64 * 2 ** 20;
/** The most copies of one weight (256 of moge-small's 256 × 256). */
const COPIES_MAX = 256;
const values = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(salt + i * 0.37));

/** Enough copies of a weight of `size` floats that cycling through them misses every cache. */
function copies(b: Backend, size: number, shape: number[], constant: boolean): Tensor[] {
  const count = Math.min(COPIES_MAX, Math.max(2, Math.ceil(COLD_BYTES / (4 * size))));
  return Array.from({ length: count }, (_, c) => {
    const t = b.fromArray(values(size, c), shape);
    return constant ? b.constant(t) : t;
  });
}

/** A variant calling `run` on the next copy each call. */
function rotating(name: string, weights: Tensor[], run: (w: Tensor) => Tensor): Variant {
  let i = 0;
  return { name, call: () => run(weights[i++ % weights.length]!) };
}

function variants(shape: number[], size: number, run: (b: Backend, w: Tensor) => Tensor): Variant[] {
  return [
    rotating('few-row kernel', copies(withNative, size, shape, true), (w) => run(withNative, w)),
    rotating('pre-packed session', copies(without, size, shape, true), (w) => run(without, w)),
    rotating('OpenBLAS', copies(without, size, shape, false), (w) => run(without, w)),
  ];
}

const rows: [string, Variant[]][] = [];
for (const [n, k] of [[256, 256], [512, 256], [256, 512], [4096, 256]] as const) {
  for (const m of [4, 8, 16, 32, 64, 128]) {
    const x = [withNative, without].map((b) => b.fromArray(values(m * k, 7), [m, k]));
    rows.push([`[${m}×${k}]·[${n}×${k}]ᵀ`, variants([n, k], n * k, (b, w) => b.matmul(x[b === withNative ? 0 : 1]!, w, { transB: true }))]);
  }
}
const experts = 16;
for (const perExpert of [2, 4, 8, 16, 32, 64]) {
  const [n, k] = [256, 256];
  const t = experts * perExpert;
  const offsets = Int32Array.from({ length: experts + 1 }, (_, g) => g * perExpert);
  const x = [withNative, without].map((b) => b.fromArray(values(t * k, 8), [t, k]));
  rows.push([`16 experts × [${perExpert}×${k}]·[${n}×${k}]ᵀ`, variants([experts, n, k], experts * n * k, (b, w) => b.groupedMatmul(x[b === withNative ? 0 : 1]!, w, offsets, { transB: true }))]);
}

console.log(`few-row kernel: ${native.kernels.vectorIsa()} instantiation; µs a call, median of ${ROUNDS} interleaved rounds, weights cold`);
console.log(`${'product'.padEnd(36)} ${'few-row'.padStart(9)} ${'pre-packed'.padStart(11)} ${'OpenBLAS'.padStart(9)}`);
for (const [shape, vs] of rows) {
  // Every copy once first: a constant's pre-packed session is made at its first product.
  for (const v of vs) for (let i = 0; i < COPIES_MAX; i++) v.call();
  const timings = await measureInterleaved(vs, 20, ROUNDS, { warmUp: false });
  console.log(`${shape.padEnd(36)} ${timings.map((t, i) => (t.medianS * 1e6).toFixed(1).padStart(i === 1 ? 11 : 9)).join(' ')}`);
}
