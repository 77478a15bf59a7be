/**
 * The measurements behind BlasRouting (src/backend/blas/blas-kernels.ts): for each product shape the
 * model meets, OpenBLAS's sgemm called directly against onnxruntime's kernel (a pre-packed session for
 * a constant weight, batched MatMul for products per batch), on warm operands, one thread. Run it
 * once per OpenBLAS kernel family; the family is printed first:
 *
 *   npx tsx --conditions=@moge/source bench/blas-routing.ts                       # the machine's setting
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE npx tsx --conditions=@moge/source bench/blas-routing.ts
 *
 * Warm operands flatter OpenBLAS for constant weights: in a decode step the weights stream from memory
 * and the pre-packed session kept its lead (see BlasRouting), so read these rows with the model's
 * op profile (packages/model/bench/op-profile.ts) beside them.
 */
import { loadOpenBlas } from '../src/backend/blas/openblas';
import { createOnnxBackend } from '../src/backend/node-index';
import { measureInterleaved, type Variant } from './timing';

const loaded = loadOpenBlas();
if (!loaded.ok) throw new Error(`no OpenBLAS to measure: ${loaded.reason}`);
const { sgemm, coreName } = loaded.blas;
loaded.blas.setThreads(1);
const ort = createOnnxBackend({ intraOpThreads: 1, openBlas: false });
const ROUNDS = 5;
const values = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(salt + i * 0.37));
/** Calls per round: about 20 M multiply-adds of work, at least 3 calls. */
const callsFor = (macs: number) => Math.max(3, Math.floor(2e7 / macs));

interface Row {
  shape: string;
  variants: Variant[];
  macs: number;
}

function constantGemm(m: number, k: number, n: number): Row {
  const [x, w] = [values(m * k, 1), values(n * k, 2)];
  const [xt, wc] = [ort.fromArray(x, [m, k]), ort.constant(ort.fromArray(w, [n, k]))];
  const out = new Float32Array(m * n);
  return {
    shape: `frozen [${m}×${k}]·[${n}×${k}]ᵀ`,
    macs: m * k * n,
    variants: [
      { name: 'pre-packed session', call: () => ort.matmul(xt, wc, { transB: true }) },
      { name: 'OpenBLAS', call: () => sgemm(false, true, m, n, k, 1, x, k, w, k, 0, out, n) },
    ],
  };
}

function constantGrouped(experts: number, rows: number, k: number, n: number): Row {
  const t = experts * rows;
  const [x, w] = [values(t * k, 3), values(experts * k * n, 4)];
  const [xt, wc] = [ort.fromArray(x, [t, k]), ort.constant(ort.fromArray(w, [experts, k, n]))];
  const offsets = Int32Array.from({ length: experts + 1 }, (_, e) => e * rows);
  const out = new Float32Array(t * n);
  return {
    shape: `frozen grouped ${experts} × [${rows}×${k}]·[${k}×${n}]`,
    macs: t * k * n,
    variants: [
      { name: 'pre-packed session', call: () => ort.groupedMatmul(xt, wc, offsets) },
      {
        name: 'OpenBLAS',
        call: () => {
          for (let e = 0; e < experts; e++) {
            sgemm(false, false, rows, n, k, 1, x.subarray(e * rows * k, (e + 1) * rows * k), k, w.subarray(e * k * n, (e + 1) * k * n), n, 0, out.subarray(e * rows * n, (e + 1) * rows * n), n);
          }
        },
      },
    ],
  };
}

function perBatch(batch: number, m: number, k: number, n: number): Row {
  const [a, b] = [values(batch * m * k, 5), values(batch * k * n, 6)];
  const [at, bt] = [ort.fromArray(a, [batch, m, k]), ort.fromArray(b, [batch, k, n])];
  const out = new Float32Array(batch * m * n);
  return {
    shape: `${batch} × [${m}×${k}]·[${k}×${n}]`,
    macs: batch * m * k * n,
    variants: [
      { name: 'batched MatMul', call: () => ort.matmul(at, bt) },
      {
        name: 'OpenBLAS loop',
        call: () => {
          for (let s = 0; s < batch; s++) {
            sgemm(false, false, m, n, k, 1, a.subarray(s * m * k, (s + 1) * m * k), k, b.subarray(s * k * n, (s + 1) * k * n), n, 0, out.subarray(s * m * n, (s + 1) * m * n), n);
          }
        },
      },
    ],
  };
}

const rows: Row[] = [
  ...[4, 8, 32, 256].map((m) => constantGemm(m, 256, 512)),
  constantGemm(32, 256, 4096),
  ...[2, 4, 8, 16, 64].map((r) => constantGrouped(16, r, 256, 256)),
  perBatch(64, 2, 64, 96),
  perBatch(16, 64, 64, 64),
  perBatch(8, 256, 64, 256),
  perBatch(8, 512, 64, 512),
  perBatch(1024, 1, 4, 256),
];

console.log(`OpenBLAS kernel family: ${coreName} (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'}); 1 thread, median of ${ROUNDS} interleaved rounds, µs per call`);
console.log(['product'.padEnd(40), 'onnxruntime'.padStart(12), 'OpenBLAS'.padStart(10), 'ratio'.padStart(7)].join('  '));
for (const row of rows) {
  const [theirs, ours] = await measureInterleaved(row.variants, callsFor(row.macs), ROUNDS);
  const us = (s: number) => (s * 1e6).toFixed(1);
  console.log([row.shape.padEnd(40), us(theirs!.medianS).padStart(12), us(ours!.medianS).padStart(10), (theirs!.medianS / ours!.medianS).toFixed(2).padStart(7)].join('  '));
}
console.log('ratio = onnxruntime time / OpenBLAS time (> 1: OpenBLAS faster).');
