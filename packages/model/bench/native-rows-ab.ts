/**
 * moge's native kernels (@moge/ascend-hal's default when the library was built at install: one-row
 * products on prefetching kernels, transposes and row gathers as memcpy runs) against none
 * (`nativeKernels: false`: OpenBLAS's sgemv, copies in JS), in one process on one machine: moge-small
 * decode and a training step on the onnxruntime backend, 1 thread. The two alternate round by round
 * (median of per-round ratios), so machine load hits both alike. Also checks that both give the same
 * logits (within f32 summation order).
 *   npx tsx --expose-gc --conditions=@moge/source bench/native-rows-ab.ts [--rounds 9]
 */
import { parseArgs } from 'node:util';
import { createOnnxBackend, nativeKernelsStatus } from '@moge/ascend-hal/node';
import { createKvCache, freezeWeights, getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels, releaseGrads, releaseLogits, type ModelWeights } from '../src/index';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '9' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);
const status = nativeKernelsStatus();
if (!status.loaded) throw new Error(`native kernels not loaded, nothing to compare: ${status.reason}`);
const arch = getPreset('moge-small');
const [steps, prefill] = [64, 64];

const sides = {
  openblas: initModelWeights(arch, createOnnxBackend({ intraOpThreads: 1, nativeKernels: false }), { seed: 1 }),
  native: initModelWeights(arch, createOnnxBackend({ intraOpThreads: 1 }), { seed: 1 }),
};
const frozen = { openblas: freezeWeights(sides.openblas), native: freezeWeights(sides.native) };

/** Milliseconds a decode step, and the last step's logits. */
function decode(w: ModelWeights, batch: number): { ms: number; logits: Float32Array } {
  const cache = createKvCache(arch, batch);
  modelForward(w, { ids: Int32Array.from({ length: batch * prefill }, (_, i) => (i * 7919) % arch.vocabSize), batch, seqLen: prefill }, { cache });
  let logits: Float32Array = new Float32Array(0);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const out = modelForward(w, { ids: Int32Array.from({ length: batch }, (_, b) => (i * 31 + b) % arch.vocabSize), batch, seqLen: 1 }, { cache });
    logits = w.backend.read(out.logits) as Float32Array;
  }
  return { ms: (performance.now() - t0) / steps, logits };
}

/** Milliseconds of a training step (forward + backward) on a 4 × 256 batch, and its logits. */
function trainStep(w: ModelWeights): { ms: number; logits: Float32Array } {
  const ids = Int32Array.from({ length: 4 * 256 }, (_, i) => (i * 7919) % arch.vocabSize);
  const t0 = performance.now();
  const forward = modelForward(w, { ids, batch: 4, seqLen: 256, labels: nextTokenLabels(ids, 4, 256) });
  releaseGrads(w, modelBackward(w, forward));
  releaseLogits(w, forward);
  return { ms: performance.now() - t0, logits: w.backend.read(forward.logits) as Float32Array };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
type Run = (w: ModelWeights) => { ms: number; logits: Float32Array };
const workloads: [string, typeof frozen, Run][] = [
  ['decode batch 1, frozen', frozen, (w) => decode(w, 1)],
  ['decode batch 1, ordinary', sides, (w) => decode(w, 1)],
  ['decode batch 32, frozen', frozen, (w) => decode(w, 32)],
  ['train step 4×256', sides, trainStep],
];
console.log(`moge-small, onnxruntime backend, 1 thread: native kernels of ${status.path} vs none, median of ${rounds} alternating rounds`);
console.log(['workload'.padEnd(26), 'without ms/step'.padStart(16), 'native ms/step'.padStart(14), 'speed-up ×'.padStart(10), 'rounds ×'.padStart(11), 'max |Δlogit|'.padStart(12)].join('  '));
for (const [name, weights, run] of workloads) {
  const a = run(weights.openblas);
  const b = run(weights.native); // warm-up, and the logits compared
  const maxDiff = a.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - b.logits[i]!)), 0);
  const [old, now]: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? (['native', 'openblas'] as const) : (['openblas', 'native'] as const);
    for (const side of order) (side === 'native' ? now : old).push(run(weights[side]).ms);
  }
  const ratios = old.map((o, i) => o / now[i]!);
  const range = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  console.log([name.padEnd(26), median(old).toFixed(3).padStart(16), median(now).toFixed(3).padStart(14), median(ratios).toFixed(2).padStart(10), range.padStart(11), maxDiff.toExponential(1).padStart(12)].join('  '));
}
