/**
 * The memory-bound kernels of the onnxruntime backend at moge-small sizes (training: 4 × 256 tokens;
 * decode: batch 1 and 32), old path against new, in interleaved rounds (bench/timing.ts) so both see
 * the same load. Per case it also times each candidate on its own — the JS reference kernel, the
 * onnxruntime graph (ort-elementwise.ts, where one exists) and the WebAssembly SIMD kernel
 * (wasm/) — which is what the backend's per-kernel, per-size choice in onnx-backend.ts rests on.
 *   old  = createOnnxBackend({ wasmKernels: false }) (onnxruntime graphs ≥ 2048 elements, else JS)
 *   new  = createOnnxBackend() (the default)
 * (transpose's old is the same backend's kernel with its runs copied element by element, as before)
 * Run: npx tsx --conditions=@moge/source bench/elementwise.ts [--rounds 5] [--only swiglu]
 */
import { parseArgs } from 'node:util';
import { Rng } from '@moge/core';
import { createReferenceBackend, type Backend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { createCpuBackend } from '../src/backend/cpu/cpu-backend';
import type { CpuTensor } from '../src/backend/cpu/cpu-tensor';
import { transposeRuns } from '../src/backend/cpu/fast-transpose';
import { onnxElementwiseKernels } from '../src/backend/onnxruntime/ort-elementwise';
import { SessionCache } from '../src/backend/onnxruntime/session-cache';
import { wasmKernels } from '../src/backend/wasm/wasm-kernels';
import { measureInterleaved, pairedRatio, type Variant } from './timing';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, only: { type: 'string' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);

type Data = (shape: readonly number[], lo?: number, hi?: number) => Float32Array;
interface Case {
  name: string;
  /** Builds one call of the kernel on `be`, its inputs made once up front. */
  make(be: Backend, data: Data): () => unknown;
  /** Whether onnxruntime has a graph for it (else the ort column is skipped). */
  ort: boolean;
  /** What ran before, when that is not the old backend's kernel (built on the onnxruntime backend). */
  before?(be: Backend, data: Data): () => unknown;
}

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

function unary(name: string, shape: number[], ort: boolean, call: (be: Backend, a: ReturnType<Backend['fromArray']>) => unknown): Case {
  return { name: `${name} [${shape.join('×')}]`, ort, make: (be, d) => { const a = be.fromArray(d(shape), shape); return () => call(be, a); } };
}

function cases(): Case[] {
  const out: Case[] = [];
  // SwiGLU: training experts [T·K, F] and the shared expert [T, 2F]; decode 4 routed rows / 1 shared row (b1), ×32 (b32)
  for (const shape of [[4096, 256], [1024, 512], [4, 256], [1, 512], [128, 256], [32, 512]]) {
    out.push({ name: `swiglu [${shape.join('×')}]`, ort: true, make: (be, d) => { const g = be.fromArray(d(shape, -8, 8), shape); const u = be.fromArray(d(shape), shape); return () => be.swiglu(g, u); } });
  }
  for (const shape of [[4096, 256], [1024, 512]]) {
    out.push({
      name: `swigluBackward [${shape.join('×')}]`, ort: true,
      make: (be, d) => { const g = be.fromArray(d(shape, -8, 8), shape); const u = be.fromArray(d(shape), shape); const dy = be.fromArray(d(shape), shape); return () => be.swigluBackward(g, u, dy); },
    });
  }
  // Attention probabilities: training [B·H, S, S] causal, the loss softmax [T, V]; decode [B·H, 1, Sk]
  out.push(unary('softmax causal', [16, 256, 256], true, (be, a) => be.softmax(a, { causal: true })));
  out.push(unary('softmax', [1024, 4096], true, (be, a) => be.softmax(a)));
  out.push(unary('softmax causal', [4, 1, 80], true, (be, a) => be.softmax(a, { causal: true })));
  out.push(unary('softmax causal', [128, 1, 80], true, (be, a) => be.softmax(a, { causal: true })));
  for (const shape of [[8, 512, 256], [1024, 16]]) {
    out.push({
      name: `softmaxBackward [${shape.join('×')}]`, ort: true,
      make: (be, d) => { const y = be.softmax(be.fromArray(d(shape), shape)); const dy = be.fromArray(d(shape), shape); return () => be.softmaxBackward(y, dy); },
    });
  }
  for (const rows of [1024, 1, 32]) {
    const shape = [rows, 256];
    out.push({ name: `rmsNorm [${shape.join('×')}]`, ort: false, make: (be, d) => { const x = be.fromArray(d(shape), shape); const w = be.fromArray(d([256]), [256]); return () => be.rmsNorm(x, w, 1e-5); } });
  }
  out.push({
    name: 'rmsNormBackward [1024×256]', ort: true,
    make: (be, d) => {
      const x = be.fromArray(d([1024, 256]), [1024, 256]); const w = be.fromArray(d([256]), [256]); const dy = be.fromArray(d([1024, 256]), [1024, 256]);
      const r = be.rmsNorm(x, w, 1e-5).invRms; return () => be.rmsNormBackward(x, w, r, dy);
    },
  });
  for (const [t, h] of [[1024, 4], [1024, 2], [1, 4], [32, 4]] as const) {
    const shape = [t, h, 64];
    // training positions repeat per sequence (4 × 0..255); decode asks for one position per sequence
    const positions = Int32Array.from({ length: t }, (_, i) => (t === 1024 ? i % 256 : 64 + i));
    out.push(unary(`rope`, shape, false, (be, a) => be.rope(a, positions, 10000)));
  }
  for (const shape of [[1024, 256], [4096, 256], [1, 256], [32, 256]]) {
    out.push({ name: `axpyInPlace [${shape.join('×')}]`, ort: false, make: (be, d) => { const y = be.fromArray(d(shape), shape); const x = be.fromArray(d(shape), shape); return () => be.axpyInPlace(y, x, 1e-3); } });
  }
  for (const shape of [[1024, 4096], [1024, 4, 64], [1, 4, 64], [32, 4, 64]]) out.push(unary('affine', shape, false, (be, a) => be.affine(a, 0.125)));
  // Attention layout changes (last axis kept): before, the runs were copied element by element
  for (const [shape, perm] of [[[4, 256, 2, 2, 64], [0, 3, 1, 2, 4]], [[4, 256, 4, 64], [0, 2, 1, 3]], [[32, 1, 4, 64], [0, 2, 1, 3]]] as const) {
    out.push({
      name: `transpose [${shape.join('×')}] → [${perm.join(',')}]`, ort: false,
      make: (be, d) => { const a = be.fromArray(d(shape), shape); return () => be.transpose(a, perm); },
      before: (be, d) => { const a = be.fromArray(d(shape), shape) as CpuTensor; return () => transposeRuns(a, perm, Infinity); },
    });
  }
  // MoE combine: top-4 expert outputs of T tokens added back into [T, h] (training T = 1024, decode b32)
  for (const [t, k] of [[1024, 4], [32, 4]] as const) {
    out.push({
      name: `scatterAddRows [${t}×256] ← [${t * k}×256]`, ort: false,
      make: (be, d) => {
        const dst = be.fromArray(d([t, 256]), [t, 256]); const src = be.fromArray(d([t * k, 256]), [t * k, 256]);
        const index = Int32Array.from({ length: t * k }, (_, i) => (i * 7) % t);
        return () => be.scatterAddRows(dst, index, src);
      },
    });
  }
  return out;
}

function dataFor(seed: number): Data {
  const rng = new Rng(seed);
  return (shape, lo = -2, hi = 2) => Float32Array.from({ length: size(shape) }, () => lo + rng.float() * (hi - lo));
}

const fmt = (s: number) => (s * 1e6).toFixed(1).padStart(10);

async function main(): Promise<void> {
  const backends = {
    old: createOnnxBackend({ intraOpThreads: 1, wasmKernels: false }),
    new: createOnnxBackend({ intraOpThreads: 1 }),
    js: createReferenceBackend(),
    ort: createCpuBackend('onnxruntime', onnxElementwiseKernels(new SessionCache({ intraOpThreads: 1 }), 0)),
    wasm: createCpuBackend('onnxruntime', wasmKernels()),
  };
  console.log(`memory-bound kernels, 1 thread — median µs per call over ${rounds} interleaved rounds; old/new is the median of paired per-round ratios`);
  console.log(['kernel'.padEnd(34), 'old'.padStart(10), 'new'.padStart(10), 'old/new'.padStart(8), '│', 'js'.padStart(10), 'ort'.padStart(10), 'wasm'.padStart(10)].join(' '));
  for (const c of cases()) {
    if (args.only && !c.name.includes(args.only)) continue;
    const names = ['old', 'new', 'js', ...(c.ort ? (['ort'] as const) : []), 'wasm'] as const;
    const variants: Variant[] = names.map((n) => ({ name: n, call: n === 'old' && c.before ? c.before(backends.old, dataFor(1)) : c.make(backends[n], dataFor(1)) }));
    // ~20 ms of work per variant per round
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) variants[1]!.call();
    const perCall = Math.max(1e-3, (performance.now() - t0) / 3);
    const calls = Math.max(1, Math.min(2000, Math.round(20 / perCall)));
    const timings = await measureInterleaved(variants, calls, rounds);
    const by = Object.fromEntries(timings.map((t) => [t.name, t]));
    const col = (n: string) => (by[n] ? fmt(by[n].medianS) : '—'.padStart(10));
    console.log([c.name.padEnd(34), fmt(by.old!.medianS), fmt(by.new!.medianS), pairedRatio(by.old!, by.new!).toFixed(2).padStart(7) + '×', '│', col('js'), col('ort'), col('wasm')].join(' '));
  }
}

await main();
