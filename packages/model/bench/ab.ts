/**
 * Before/after of this package's speed work on one machine, in one run: the onnxruntime backend as
 * it is, against the same backend with its memory-bound kernels kept in JS (`nativeElementwiseMin`
 * at its maximum) and without the optional `matmulBias` / `writeColumns` kernels (so linears add
 * their bias in a second pass and the KV cache is re-concatenated every step) — what the model ran
 * before. Grouped matmul over non-empty segments and the run-copy transpose are in both. The two
 * alternate round by round (median of per-round ratios), so machine load hits both alike.
 *   npx tsx --conditions=@moge/source bench/ab.ts [--rounds 5]
 */
import { parseArgs } from 'node:util';
import type { Backend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { createKvCache, getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels, type ModelWeights } from '../src/index';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);
const arch = getPreset('moge-small');

function before(): Backend {
  const { writeColumns: _w, matmulBias: _m, ...rest } = createOnnxBackend({ intraOpThreads: 1, nativeElementwiseMin: 2 ** 31 - 1 });
  return rest;
}

const sides = { now: initModelWeights(arch, createOnnxBackend({ intraOpThreads: 1 }), { seed: 1 }), before: initModelWeights(arch, before(), { seed: 1 }) };

function train(w: ModelWeights): number {
  const [batch, seqLen] = [4, 256];
  const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % arch.vocabSize);
  const t0 = performance.now();
  modelBackward(w, modelForward(w, { ids, batch, seqLen, labels: nextTokenLabels(ids, batch, seqLen) }));
  return performance.now() - t0;
}

function decode(w: ModelWeights, batch: number): number {
  const cache = createKvCache(arch, batch);
  modelForward(w, { ids: Int32Array.from({ length: batch * 64 }, (_, i) => (i * 7919) % arch.vocabSize), batch, seqLen: 64 }, { cache });
  const t0 = performance.now();
  for (let i = 0; i < 32; i++) modelForward(w, { ids: new Int32Array(batch).fill(i % arch.vocabSize), batch, seqLen: 1 }, { cache });
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const workloads: [string, (w: ModelWeights) => number][] = [
  ['train step 4×256', train],
  ['decode batch 1 (32 steps)', (w) => decode(w, 1)],
  ['decode batch 32 (32 steps)', (w) => decode(w, 32)],
];
console.log(`moge-small, onnxruntime backend, 1 thread: before/after, median of ${rounds} alternating rounds`);
console.log(['workload'.padEnd(28), 'before ms'.padStart(10), 'now ms'.padStart(10), 'speed-up ×'.padStart(10)].join('  '));
for (const [name, fn] of workloads) {
  fn(sides.now);
  fn(sides.before); // warm-up: sessions, JIT
  const now: number[] = [];
  const old: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2) {
      old.push(fn(sides.before));
      now.push(fn(sides.now));
    } else {
      now.push(fn(sides.now));
      old.push(fn(sides.before));
    }
  }
  const ratio = median(old.map((o, i) => o / now[i]!));
  console.log([name.padEnd(28), median(old).toFixed(1).padStart(10), median(now).toFixed(1).padStart(10), ratio.toFixed(2).padStart(10)].join('  '));
}
