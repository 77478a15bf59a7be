/**
 * The non-matmul kernels the onnxruntime backend moved off plain JS, at moge-small training sizes
 * (T = 4·256 tokens, h = 256, 4 heads of 64, top-4 of 16 experts): the onnxruntime backend against
 * the reference backend (the JS kernels it used before), measured in interleaved rounds so both see
 * the same load; the linear's "before" is a native matmul plus a second pass adding the bias, the
 * grouped matmul's a graph over all 16 experts (at decode, 4 of them have a token).
 * Run: npx tsx --conditions=@moge/source bench/kernels.ts [--rounds 7]
 */
import { parseArgs } from 'node:util';
import { Rng } from '@moge/core';
import { createReferenceBackend, type Backend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { OUTPUT } from '../src/backend/onnxruntime/graphs';
import { INT64, encodeModel, node, valueInfo } from '../src/backend/onnxruntime/onnx-graph';
import { NativeSession, f32Feed, i64Feed } from '../src/backend/onnxruntime/ort-native';
import { measureInterleaved, pairedRatio, type Variant } from './timing';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);

interface Case {
  name: string;
  callsPerRound: number;
  /** Builds one call of the kernel on `be`, its inputs made once up front. */
  make(be: Backend, data: (n: number) => Float32Array): () => unknown;
  /** What ran before, when that is not the reference backend's kernel (built on the onnxruntime backend). */
  before?(be: Backend, data: (n: number) => Float32Array): () => unknown;
}

const T = 1024;
const H = 256;
const TK = 4 * T;
const F = 256;
const CASES: Case[] = [
  { name: `swiglu [${TK}×${F}]`, callsPerRound: 3, make: (be, d) => { const g = be.fromArray(d(TK * F), [TK, F]); const u = be.fromArray(d(TK * F), [TK, F]); return () => be.swiglu(g, u); } },
  {
    name: `swigluBackward [${TK}×${F}]`, callsPerRound: 3,
    make: (be, d) => { const g = be.fromArray(d(TK * F), [TK, F]); const u = be.fromArray(d(TK * F), [TK, F]); const dy = be.fromArray(d(TK * F), [TK, F]); return () => be.swigluBackward(g, u, dy); },
  },
  { name: 'causal softmax [8×512×512]', callsPerRound: 3, make: (be, d) => { const s = be.fromArray(d(8 * 512 * 512), [8, 512, 512]); return () => be.softmax(s, { causal: true }); } },
  {
    name: 'softmaxBackward [4096×512]', callsPerRound: 3,
    make: (be, d) => { const p = be.softmax(be.fromArray(d(4096 * 512), [4096, 512])); const dy = be.fromArray(d(4096 * 512), [4096, 512]); return () => be.softmaxBackward(p, dy); },
  },
  {
    name: `rmsNormBackward [${T}×${H}]`, callsPerRound: 10,
    make: (be, d) => {
      const x = be.fromArray(d(T * H), [T, H]); const w = be.fromArray(d(H), [H]); const dy = be.fromArray(d(T * H), [T, H]);
      const r = be.rmsNorm(x, w, 1e-6).invRms; return () => be.rmsNormBackward(x, w, r, dy);
    },
  },
  { name: `transpose [4,256,4,64] → [0,2,1,3]`, callsPerRound: 10, make: (be, d) => { const x = be.fromArray(d(T * H), [4, 256, 4, 64]); return () => be.transpose(x, [0, 2, 1, 3]); } },
  {
    name: 'linear + bias [1024×256]·[256×256]ᵀ', callsPerRound: 10,
    make: (be, d) => {
      const x = be.fromArray(d(T * H), [T, H]); const w = be.fromArray(d(H * H), [H, H]); const bias = be.fromArray(d(H), [H]);
      return () => be.matmulBias!(x, w, bias, { transB: true });
    },
    // Before: a native matmul, then the bias copied to every row and added in place (two passes).
    before: (be, d) => {
      const x = be.fromArray(d(T * H), [T, H]); const w = be.fromArray(d(H * H), [H, H]); const bias = be.fromArray(d(H), [1, H]);
      return () => { const y = be.matmul(x, w, { transB: true }); be.axpyInPlace(y, be.gatherRows(bias, new Int32Array(T))); return y; };
    },
  },
];

/** The grouped-matmul graph over all experts, as the backend built it before: Split, a Gemm per expert, Concat. */
function splitConcatGraph(groups: number): Uint8Array {
  const ids = Array.from({ length: groups }, (_, g) => g);
  return encodeModel({
    name: 'split_concat',
    nodes: [
      node('Split', ['x', 'sizes'], ids.map((g) => `x${g}`), { axis: 0 }),
      ...ids.map((g) => node('Gemm', [`x${g}`, `w${g}`], [`y${g}`], { transB: 1 })),
      node('Concat', ids.map((g) => `y${g}`), [OUTPUT], { axis: 0 }),
    ],
    inputs: [valueInfo('x', ['T', 'K']), valueInfo('sizes', [groups], INT64), ...ids.map((g) => valueInfo(`w${g}`, ['N', 'K']))],
    outputs: [valueInfo(OUTPUT, ['T', 'N'])],
  });
}

function dataFor(seed: number): (n: number) => Float32Array {
  const rng = new Rng(seed);
  return (n) => Float32Array.from({ length: n }, () => rng.float() * 4 - 2);
}

async function main(): Promise<void> {
  const onnx = createOnnxBackend({ intraOpThreads: 1 });
  const ref = createReferenceBackend();
  console.log(`kernels at moge-small training sizes, 1 thread — median ms per call over ${rounds} interleaved rounds`);
  console.log(['kernel'.padEnd(40), 'before'.padStart(14), 'onnxruntime'.padStart(12), 'speed-up ×'.padStart(10)].join(' │ '));
  for (const c of CASES) {
    const variants: Variant[] = [
      { name: 'before', call: c.before ? c.before(onnx, dataFor(1)) : c.make(ref, dataFor(1)) },
      { name: 'onnxruntime', call: c.make(onnx, dataFor(1)) },
    ];
    const [r, o] = await measureInterleaved(variants, c.callsPerRound, rounds);
    console.log([c.name.padEnd(40), (r!.medianS * 1e3).toFixed(3).padStart(14), (o!.medianS * 1e3).toFixed(3).padStart(12), pairedRatio(r!, o!).toFixed(2).padStart(10)].join(' │ '));
  }
  // Grouped matmul, before: a Split / Concat graph with a Gemm for every expert, empty ones included;
  // now: the same graph over the non-empty experts only (at training sizes all 16 have rows: ≈ 1×).
  for (const [label, rows, offsetsOf] of [
    ['grouped, decode: 4 rows to 4 of 16', 4, (g: number) => Math.min(4, Math.ceil(g / 4))],
    [`grouped, training: ${TK} rows to 16`, TK, (g: number) => (g * TK) / 16],
  ] as const) {
    const rng = new Rng(5);
    const xd = Float32Array.from({ length: rows * H }, () => rng.float() - 0.5);
    const wd = Float32Array.from({ length: 16 * F * H }, () => rng.float() - 0.5);
    const offsets = Int32Array.from({ length: 17 }, (_, g) => offsetsOf(g));
    const [x, w] = [onnx.fromArray(xd, [rows, H]), onnx.fromArray(wd, [16, F, H])];
    const old = new NativeSession(splitConcatGraph(16), [OUTPUT], { intraOpThreads: 1 });
    const feeds: Parameters<NativeSession['run']>[0] = { x: f32Feed(xd, [rows, H]), sizes: i64Feed(Array.from({ length: 16 }, (_, g) => offsets[g + 1]! - offsets[g]!)) };
    for (let g = 0; g < 16; g++) feeds[`w${g}`] = f32Feed(wd.subarray(g * F * H, (g + 1) * F * H), [F, H]);
    const [before, now] = await measureInterleaved(
      [
        { name: 'split/concat, all experts', call: () => old.run(feeds) },
        { name: 'non-empty experts', call: () => onnx.groupedMatmul(x, w, offsets, { transB: true }) },
      ],
      rows > 64 ? 2 : 50,
      rounds,
    );
    console.log([label.padEnd(40), (before!.medianS * 1e3).toFixed(3).padStart(14), (now!.medianS * 1e3).toFixed(3).padStart(12), pairedRatio(before!, now!).toFixed(2).padStart(10)].join(' │ '));
  }
}

await main();
