/**
 * Constant weights (Backend.constant) on the onnxruntime backend, at moge-small's decode shapes, one
 * intra-op thread: each matmul against an ordinary weight (fed per call, packed by MLAS on every
 * call) and against the same weight made constant (an initializer of a session cached per constant,
 * pre-packed once at load). Grouped matmuls also run the alternative design of one session per
 * expert (a matmul per non-empty segment against that expert's constant [N, K] slice).
 * Then the one-off cost: time of the first call on a fresh constant (session build + pre-packing)
 * and the resident memory the sessions add, per byte of weight.
 * Run: npx tsx --conditions=@moge/source bench/constant-weights.ts
 */
import { Rng } from '@moge/core';
import type { Backend, Tensor } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { measureInterleaved, median, pairedRatio, type Variant } from './timing';

const be = createOnnxBackend({ intraOpThreads: 1 });
const rng = new Rng(11);
const rand = (shape: number[]): Tensor => {
  const n = shape.reduce((p, d) => p * d, 1);
  return be.fromArray(Float32Array.from({ length: n }, () => rng.float() - 0.5), shape);
};

/** Expert-sorted offsets of `tokens` tokens routed to `perToken` of `groups` experts each (spread evenly, skewed a little). */
function routedOffsets(tokens: number, perToken: number, groups: number): Int32Array {
  const counts = new Int32Array(groups);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < perToken; j++) counts[(t * 7 + j * (groups / perToken) + (t % 3)) % groups]! += 1;
  const offsets = new Int32Array(groups + 1);
  for (let g = 0; g < groups; g++) offsets[g + 1] = offsets[g]! + counts[g]!;
  return offsets;
}

/** The per-expert design: one constant per expert, one matmul per non-empty segment. */
function perExpert(b: Backend, x: Tensor, experts: readonly Tensor[], offsets: Int32Array, k: number, n: number): Tensor {
  const xd = b.read(x) as Float32Array;
  const out = new Float32Array(x.shape[0]! * n);
  for (let g = 0; g + 1 < offsets.length; g++) {
    const [s, e] = [offsets[g]!, offsets[g + 1]!];
    if (s === e) continue;
    out.set(b.read(b.matmul(b.fromArray(xd.subarray(s * k, e * k), [e - s, k]), experts[g]!, { transB: true })), s * n);
  }
  return b.fromArray(out, [x.shape[0]!, n]);
}

async function speed(): Promise<void> {
  console.log('per-call time, constant weight vs ordinary (ratio < 1: the constant is faster), interleaved rounds, 1 thread\n');
  const rows: [string, string, number, number][] = [];
  for (const [m, n, bias] of [[1, 256, true], [1, 512, false], [1, 4096, false], [32, 256, true], [32, 512, false], [32, 4096, false]] as const) {
    const x = rand([m, 256]);
    const w = rand([n, 256]);
    const cw = be.constant(w);
    const c = rand([n]);
    const cc = be.constant(c);
    const variants: Variant[] = bias
      ? [{ name: 'ordinary', call: () => be.matmulBias!(x, w, c, { transB: true }) }, { name: 'constant', call: () => be.matmulBias!(x, cw, cc, { transB: true }) }]
      : [{ name: 'ordinary', call: () => be.matmul(x, w, { transB: true }) }, { name: 'constant', call: () => be.matmul(x, cw, { transB: true }) }];
    const [o, k] = await measureInterleaved(variants, m === 1 ? 400 : 100, 9);
    rows.push([`${bias ? 'matmulBias' : 'matmul'} ${m}x256·(${n}x256)ᵀ`, '', o!.medianS, pairedRatio(k!, o!)]);
  }
  for (const [tokens, label] of [[1, 'decode b1'], [32, 'decode b32'], [128, 'prefill 128']] as const) {
    const offsets = routedOffsets(tokens, 4, 16);
    const x = rand([tokens * 4, 256]);
    const w = rand([16, 256, 256]);
    const cw = be.constant(w);
    const experts = Array.from({ length: 16 }, (_, g) => be.constant(be.fromArray((be.read(w) as Float32Array).subarray(g * 65536, (g + 1) * 65536), [256, 256])));
    const [o, k, p] = await measureInterleaved(
      [
        { name: 'ordinary', call: () => be.groupedMatmul(x, w, offsets, { transB: true }) },
        { name: 'constant, one session', call: () => be.groupedMatmul(x, cw, offsets, { transB: true }) },
        { name: 'constant, session per expert', call: () => perExpert(be, x, experts, offsets, 256, 256) },
      ],
      tokens === 1 ? 200 : 40,
      9,
    );
    const used = Array.from({ length: 16 }, (_, g) => offsets[g + 1]! - offsets[g]!).filter((s) => s > 0).length;
    rows.push([`groupedMatmul ${tokens * 4}x256·16x256x256 (${label}, ${used} experts)`, 'one session', o!.medianS, pairedRatio(k!, o!)]);
    rows.push([`groupedMatmul ${tokens * 4}x256·16x256x256 (${label}, ${used} experts)`, 'session per expert', o!.medianS, pairedRatio(p!, o!)]);
  }
  for (const [name, variant, ordinaryS, ratio] of rows) {
    console.log(`${name.padEnd(58)} ${variant.padEnd(20)} ordinary ${(ordinaryS * 1e6).toFixed(1).padStart(7)} µs   constant/ordinary ${ratio.toFixed(2)}`);
  }
}

/** First call on a fresh constant (build + pre-pack + run) minus a steady call, median of `n` constants. */
function buildCost(shape: number[], call: (w: Tensor) => unknown, n: number): number {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = be.constant(rand(shape));
    const t0 = performance.now();
    call(w);
    const first = performance.now() - t0;
    const t1 = performance.now();
    call(w);
    times.push(first - (performance.now() - t1));
  }
  return median(times);
}

/** Resident memory the sessions of `count` constants of `shape` add, per byte of weight. */
function memoryPerWeightByte(shape: number[], call: (w: Tensor) => unknown, count: number): number {
  const ws = Array.from({ length: count }, () => be.constant(rand(shape)));
  global.gc?.();
  const before = process.memoryUsage().rss;
  for (const w of ws) call(w);
  global.gc?.();
  const after = process.memoryUsage().rss;
  return (after - before) / (count * ws[0]!.size * 4);
}

function oneOff(): void {
  console.log('\none-off cost of a constant (first call builds its session)');
  const x1 = rand([1, 256]);
  const x4 = rand([4, 256]);
  const offsets = Int32Array.from([0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4]);
  const kinds: [string, number[], (w: Tensor) => unknown][] = [
    ['linear 256x256', [256, 256], (w) => be.matmul(x1, w, { transB: true })],
    ['head 4096x256', [4096, 256], (w) => be.matmul(x1, w, { transB: true })],
    ['experts 16x256x256', [16, 256, 256], (w) => be.groupedMatmul(x4, w, offsets, { transB: true })],
  ];
  for (const [name, shape, call] of kinds) {
    const ms = buildCost(shape, call, 7);
    const perByte = memoryPerWeightByte(shape, call, name.startsWith('head') ? 8 : 24);
    const mib = (shape.reduce((p, d) => p * d, 1) * 4) / 2 ** 20;
    console.log(`${name.padEnd(20)} weight ${mib.toFixed(2)} MiB   build ${ms.toFixed(2)} ms   session memory ${perByte.toFixed(2)} bytes per weight byte`);
  }
}

await speed();
oneOff();
