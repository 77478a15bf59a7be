/**
 * Grouped matmul (MoE expert FFN shapes): the HAL onnxruntime backend's single-graph kernel (Split →
 * one Gemm per segment → Concat) against the two other ways to do it with the same backend — one
 * matmul call per non-empty segment, and padding every segment to the longest for one batched
 * matmul — and against the reference backend. Routing loads are skewed as a router's are.
 * Run: npx tsx --conditions=@moge/source bench/grouped-matmul.ts
 */
import { Rng } from '@moge/core';
import { createReferenceBackend, type Backend, type Tensor } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { measureInterleaved, type Variant } from './timing';

interface Shape {
  tokens: number;
  k: number;
  n: number;
  groups: number;
  callsPerRound: number;
  /** The reference kernel is timed only where a call takes well under a second. */
  withReference: boolean;
}

const SHAPES: Shape[] = [
  { tokens: 64, k: 64, n: 64, groups: 8, callsPerRound: 200, withReference: true },
  { tokens: 1024, k: 256, n: 256, groups: 64, callsPerRound: 4, withReference: false },
  { tokens: 2048, k: 512, n: 512, groups: 8, callsPerRound: 2, withReference: false },
];

/** Segment sizes summing to `tokens`, skewed (weights ∝ u²) with one empty segment. */
function skewedOffsets(rng: Rng, tokens: number, groups: number): Int32Array {
  const w = Array.from({ length: groups }, () => rng.float() ** 2);
  w[groups >> 1] = 0;
  const total = w.reduce((a, b) => a + b, 0);
  const offsets = new Int32Array(groups + 1);
  let acc = 0;
  for (let g = 0; g < groups; g++) {
    acc += w[g]!;
    offsets[g + 1] = g === groups - 1 ? tokens : Math.round((acc / total) * tokens);
  }
  return offsets;
}

function perSegment(be: Backend, x: Float32Array, w: Float32Array, offsets: Int32Array, s: Shape): Tensor {
  const out = new Float32Array(s.tokens * s.n);
  for (let g = 0; g < s.groups; g++) {
    const [start, end] = [offsets[g]!, offsets[g + 1]!];
    if (start === end) continue;
    const xg = be.fromArray(x.subarray(start * s.k, end * s.k), [end - start, s.k]);
    const wg = be.fromArray(w.subarray(g * s.k * s.n, (g + 1) * s.k * s.n), [s.k, s.n]);
    out.set(be.read(be.matmul(xg, wg)), start * s.n);
  }
  return be.fromArray(out, [s.tokens, s.n]);
}

function padded(be: Backend, x: Float32Array, w: Tensor, offsets: Int32Array, s: Shape): Tensor {
  let rows = 0;
  for (let g = 0; g < s.groups; g++) rows = Math.max(rows, offsets[g + 1]! - offsets[g]!);
  const xp = new Float32Array(s.groups * rows * s.k);
  for (let g = 0; g < s.groups; g++) xp.set(x.subarray(offsets[g]! * s.k, offsets[g + 1]! * s.k), g * rows * s.k);
  const yp = be.read(be.matmul(be.fromArray(xp, [s.groups, rows, s.k]), w));
  const out = new Float32Array(s.tokens * s.n);
  for (let g = 0; g < s.groups; g++) {
    const len = offsets[g + 1]! - offsets[g]!;
    out.set(yp.subarray(g * rows * s.n, (g * rows + len) * s.n), offsets[g]! * s.n);
  }
  return be.fromArray(out, [s.tokens, s.n]);
}

async function main(): Promise<void> {
  console.log('grouped matmul — median µs per call of interleaved rounds (CPU shared with other work)\n');
  console.log(['shape T×K×N, G'.padEnd(22), 'variant'.padEnd(34), 'µs/call'.padStart(10), 'GFLOP/s'.padStart(8)].join(' │ '));
  const rng = new Rng(3);
  for (const s of SHAPES) {
    const x = Float32Array.from({ length: s.tokens * s.k }, () => rng.float() - 0.5);
    const w = Float32Array.from({ length: s.groups * s.k * s.n }, () => rng.float() - 0.5);
    const offsets = skewedOffsets(rng, s.tokens, s.groups);
    const onnx = createOnnxBackend();
    const ref = createReferenceBackend();
    const [ox, ow, rx, rw] = [onnx.fromArray(x, [s.tokens, s.k]), onnx.fromArray(w, [s.groups, s.k, s.n]), ref.fromArray(x, [s.tokens, s.k]), ref.fromArray(w, [s.groups, s.k, s.n])];
    const variants: Variant[] = [
      { name: 'HAL onnxruntime groupedMatmul', call: () => onnx.groupedMatmul(ox, ow, offsets) },
      { name: 'onnxruntime, matmul per segment', call: () => perSegment(onnx, x, w, offsets, s) },
      { name: 'onnxruntime, padded batched matmul', call: () => padded(onnx, x, ow, offsets, s) },
    ];
    if (s.withReference) variants.push({ name: 'HAL reference groupedMatmul', call: () => ref.groupedMatmul(rx, rw, offsets) });
    const flops = 2 * s.tokens * s.k * s.n;
    const timings = await measureInterleaved(variants, s.callsPerRound, 9);
    for (const t of timings) {
      const label = `${s.tokens}×${s.k}×${s.n}, ${s.groups}`;
      console.log([label.padEnd(22), t.name.padEnd(34), (t.medianS * 1e6).toFixed(1).padStart(10), (flops / t.medianS / 1e9).toFixed(2).padStart(8)].join(' │ '));
    }
  }
}

await main();
