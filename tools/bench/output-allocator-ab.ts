/**
 * A moge-small training step (4 × 256 tokens, onnxruntime backend, 1 thread) with kernel outputs
 * zero-filled against uninitialized (`allocateOutput`, what the onnxruntime backend installs), in
 * one process, alternating round by round; prints the medians and the median per-round ratio.
 *
 *   npx tsx --expose-gc --conditions=source tools/bench/output-allocator-ab.ts [--rounds 12]
 */
import { parseArgs } from 'node:util';
import { median } from '../../packages/ascend-hal/bench/timing';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels } from '@moge/model';
// The allocator hook is internal to the HAL (the onnxruntime backend sets it); a measurement reaches in.
import { allocate, useOutputAllocator } from '../../packages/ascend-hal/src/backend/cpu/cpu-tensor';
import { uninitializedAllocator } from '../../packages/ascend-hal/src/backend/cpu/uninitialized-allocator';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '12' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);

const arch = getPreset('moge-small');
const w = initModelWeights(arch, createOnnxBackend({ intraOpThreads: 1 }), { seed: 1 });
const [batch, seqLen] = [4, 256];
const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % arch.vocabSize);
const labels = nextTokenLabels(ids, batch, seqLen);
function step(): number {
  const t0 = performance.now();
  modelBackward(w, modelForward(w, { ids, batch, seqLen, labels }));
  return performance.now() - t0;
}

const sides = { zeroed: () => useOutputAllocator(allocate), uninitialized: () => useOutputAllocator(uninitializedAllocator) };
type Side = keyof typeof sides;
const times: Record<Side, number[]> = { zeroed: [], uninitialized: [] };
const ratios: number[] = [];
for (const side of Object.keys(sides) as Side[]) {
  sides[side]();
  step();
}
for (let r = 0; r < rounds; r++) {
  const order: Side[] = r % 2 ? ['zeroed', 'uninitialized'] : ['uninitialized', 'zeroed'];
  for (const side of order) {
    sides[side]();
    step(); // untimed: the same warm state for both sides
    times[side].push(step());
  }
  ratios.push(times.zeroed[r]! / times.uninitialized[r]!);
}
process.stdout.write(
  `training step, median of ${rounds} rounds: zeroed ${median(times.zeroed).toFixed(1)} ms, uninitialized ${median(times.uninitialized).toFixed(1)} ms; ` +
    `zeroed / uninitialized (median per round) ${median(ratios).toFixed(3)}\n`,
);
