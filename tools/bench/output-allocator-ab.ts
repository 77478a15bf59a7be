/**
 * Kernel-output allocators of the onnxruntime backend against what they replaced, in one process,
 * alternating round by round (the order flips every round); prints the medians and the median
 * per-round ratio with its quartiles.
 *
 *   --compare zero-fill (default): a moge-small training step (4 × 256 tokens, 1 thread) with every
 *     output a zeroed typed array against the uninitialized allocator the backend installs;
 *   --compare slab: a batch-1 decode step (frozen weights, 32 steps after a 64-token prefill, as in
 *     packages/model/bench/run.ts) with outputs under 64 KiB as zeroed typed arrays of their own (the
 *     allocator before slabs) against views on shared slabs (the allocator now).
 *
 *   npx tsx --expose-gc --conditions=@moge/source tools/bench/output-allocator-ab.ts [--compare slab] [--rounds 12]
 */
import { parseArgs } from 'node:util';
import { median } from '../../packages/ascend-hal/bench/timing';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { freezeWeights, getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels } from '@moge/model';
import { decodeTokenMs } from './greedy-decode';
import { alternateRounds, ratioSummary } from './alternate';
// The allocator hook is internal to the HAL (the onnxruntime backend sets it); a measurement reaches in.
import { allocate, useOutputAllocator, type OutputAllocator } from '../../packages/ascend-hal/src/backend/cpu/cpu-tensor';
import { UNINITIALIZED_MIN_BYTES, uninitializedAllocator } from '../../packages/ascend-hal/src/backend/cpu/uninitialized-allocator';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '12' }, compare: { type: 'string', default: 'zero-fill' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);
if (args.compare !== 'zero-fill' && args.compare !== 'slab') throw new Error(`--compare: got "${args.compare}", expected zero-fill or slab`);

const arch = getPreset('moge-small');
const backend = createOnnxBackend({ intraOpThreads: 1 });
const w = initModelWeights(arch, backend, { seed: 1 });

const [batch, seqLen] = [4, 256];
const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % arch.vocabSize);
const labels = nextTokenLabels(ids, batch, seqLen);
const prompt = Int32Array.from({ length: 64 }, (_, i) => (i * 31) % arch.vocabSize);

/** One timed unit of the workload, in ms (per step for training, per token for decode). */
function trainStepMs(): number {
  const t0 = performance.now();
  modelBackward(w, modelForward(w, { ids, batch, seqLen, labels }));
  return performance.now() - t0;
}

const frozen = args.compare === 'slab' ? freezeWeights(w) : w;
/** The allocator before slabs: small outputs as zeroed typed arrays of their own. */
const ownBuffers: OutputAllocator = (dtype, size) => (size * 4 < UNINITIALIZED_MIN_BYTES ? allocate(dtype, size) : uninitializedAllocator(dtype, size));

const [label, run, before, after]: [string, () => number, [string, OutputAllocator], [string, OutputAllocator]] =
  args.compare === 'slab'
    ? ['decode batch 1, per token', () => decodeTokenMs(frozen, prompt), ['own buffers', ownBuffers], ['slabs', uninitializedAllocator]]
    : ['training step', trainStepMs, ['zeroed', allocate], ['uninitialized', uninitializedAllocator]];

const sides = [before, after] as const;
for (const [, allocator] of sides) {
  useOutputAllocator(allocator);
  run();
}
const times = alternateRounds(rounds, (s) => {
  useOutputAllocator(sides[s][1]);
  run(); // untimed: the same warm state for both sides
  return run();
});
useOutputAllocator(uninitializedAllocator);
process.stdout.write(
  `${label}, median of ${rounds} rounds: ${before[0]} ${median(times[0]).toFixed(3)} ms, ${after[0]} ${median(times[1]).toFixed(3)} ms; ` +
    `${before[0]} / ${after[0]} (per round) ${ratioSummary(times[0], times[1])}\n`,
);
