/**
 * Where the time of a moge-small workload goes, per Backend kernel (and per matmul shape): wraps the
 * onnxruntime backend in a timing proxy and prints the top entries. Not a benchmark (no baseline,
 * and the proxy adds ≈ 1 µs a call); a guide to what to speed up next.
 * Decode runs on frozen weights (`freezeWeights`, as bench/run.ts and a server do), unless
 * `ordinary` follows the mode; training always runs on ordinary weights.
 *   npx tsx --conditions=@moge/source bench/op-profile.ts decode1|decode32|train [frozen|ordinary]
 */
import type { Backend, Tensor } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { createKvCache, freezeWeights, getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels, releaseGrads, releaseLogits } from '../src/index';

const mode = process.argv[2] ?? 'decode1';
if (!['decode1', 'decode32', 'train'].includes(mode)) throw new Error(`mode: got "${mode}", expected decode1, decode32 or train`);
const weightKind = process.argv[3] ?? (mode === 'train' ? 'ordinary' : 'frozen');
if (!['frozen', 'ordinary'].includes(weightKind) || (mode === 'train' && weightKind === 'frozen')) {
  throw new Error(`weights: got "${weightKind}", expected frozen or ordinary (train: ordinary only)`);
}
const arch = getPreset('moge-small');
const raw = createOnnxBackend({ intraOpThreads: 1 });
const stats = new Map<string, { n: number; ms: number }>();
let timing = false;

const shapeOf = (t: unknown) => ((t as Tensor | undefined)?.shape ?? []).join('x');
function keyOf(kernel: string, args: unknown[]): string {
  if (kernel === 'matmul' || kernel === 'matmulBias') return `${kernel} ${shapeOf(args[0])}·${shapeOf(args[1])}`;
  if (kernel.startsWith('grouped')) return `${kernel} ${shapeOf(args[0])}·${shapeOf(args[1])}`;
  // SHAPES=1 splits every other kernel by its first operand's shape too.
  return process.env.SHAPES === '1' && args[0] && typeof args[0] === 'object' && 'shape' in args[0] ? `${kernel} ${shapeOf(args[0])}` : kernel;
}

const b = new Proxy(raw, {
  get(target, prop) {
    const value = Reflect.get(target, prop) as unknown;
    if (typeof value !== 'function') return value;
    return (...args: unknown[]) => {
      if (!timing) return (value as (...a: unknown[]) => unknown).apply(target, args);
      const t0 = performance.now();
      const result = (value as (...a: unknown[]) => unknown).apply(target, args);
      const key = keyOf(String(prop), args);
      const s = stats.get(key) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t0;
      stats.set(key, s);
      return result;
    };
  },
}) as Backend;

const initial = initModelWeights(arch, b, { seed: 1 });
const w = weightKind === 'frozen' ? freezeWeights(initial) : initial;
function run(): number {
  const t0 = performance.now();
  if (mode === 'train') {
    const [batch, seqLen] = [4, 256];
    const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % arch.vocabSize);
    timing = true;
    const fwd = modelForward(w, { ids, batch, seqLen, labels: nextTokenLabels(ids, batch, seqLen) });
    releaseGrads(w, modelBackward(w, fwd));
    releaseLogits(w, fwd);
    timing = false;
    return performance.now() - t0;
  }
  const batch = mode === 'decode32' ? 32 : 1;
  const cache = createKvCache(arch, batch);
  modelForward(w, { ids: Int32Array.from({ length: batch * 64 }, (_, i) => (i * 7919) % arch.vocabSize), batch, seqLen: 64 }, { cache });
  const t1 = performance.now();
  timing = true;
  for (let i = 0; i < 32; i++) modelForward(w, { ids: new Int32Array(batch).fill(i), batch, seqLen: 1 }, { cache });
  timing = false;
  return performance.now() - t1;
}

// Warm-up: sessions, JIT, and the allocator's pools (a single run left page faults of fresh buffers in
// the large kernels' times, e.g. SwiGLU at 8.9 ms a call against 0.9 after three).
for (let i = 0; i < 3; i++) run();
stats.clear();
const total = run();
const rows = [...stats.entries()].sort((x, y) => y[1].ms - x[1].ms);
const inBackend = rows.reduce((s, [, v]) => s + v.ms, 0);
console.log(`${mode} (${weightKind} weights): ${total.toFixed(1)} ms timed, ${inBackend.toFixed(1)} ms inside Backend calls`);
for (const [key, s] of rows.slice(0, Number(process.env.TOP ?? 30))) {
  console.log(`${s.ms.toFixed(2).padStart(9)} ms ${String(s.n).padStart(5)} calls ${((1000 * s.ms) / s.n).toFixed(1).padStart(8)} µs/call  ${key}`);
}
