/**
 * Memory benchmarks: `npm run bench` in packages/memory (vitest bench). Each group has a baseline
 * measured in the same run, and vitest prints every case as a multiple of the fastest.
 *
 * - The planner's exact search against one estimate, on Pangu Ultra MoE with PP16 × VPP2 (its
 *   paper layout): how many estimates the search costs, and its absolute time per plan.
 * - The paged KV-cache block manager: 64 decode steps of 256 sequences (one slot each per step) against
 *   the same number of pushes onto plain arrays, the floor any block table pays.
 */
import { bench, describe } from 'vitest';
import { estimateTrainingMemory, planMemory, BlockManager } from '../src/index';
import { arch, plan, PANGU_ULTRA_MOE } from '../src/training/test-archs';

const ultra = arch(PANGU_ULTRA_MOE);
// Pangu Ultra MoE's training layout: TP8 PP16 VPP2 EP4, micro-batch 2, 61 layers + 3 no-op layers.
const ultraPlan = plan({ tp: 8, pp: 16, vpp: 2, ep: 4, dp: 48, sequenceParallel: true, noopLayers: 3, microBatchSize: 2, seqLength: 4096, globalBatchSize: 1536 });
const hostLink = { bandwidth: 25e9, latencyS: 2e-5 };
const rates = { flopsPerS: 256e12, hbmBytesPerS: 1.6e12, commBytesPerS: 56e9 };
const GiB = 2 ** 30;

describe('planner (Pangu Ultra MoE, TP8 PP16 VPP2 EP4)', () => {
  bench('baseline: one estimateTrainingMemory', () => {
    estimateTrainingMemory(ultra, ultraPlan, { hostLink });
  });
  bench('planMemory, 48 GiB budget (exact search over every policy)', () => {
    planMemory(ultra, ultraPlan, 48 * GiB, { hostLink, rates });
  });
});

describe('paged KV cache: 64 decode steps of 256 sequences', () => {
  const SEQS = 256;
  bench(
    'baseline: push one slot per sequence onto plain arrays',
    () => {
      const tables = Array.from({ length: SEQS }, () => [] as number[]);
      for (let step = 0; step < 64; step++) for (let s = 0; s < SEQS; s++) tables[s]!.push(step);
    },
  );
  bench('BlockManager.appendSlot × 256 sequences × 64 steps (block size 16)', () => {
    const kv = new BlockManager({ numBlocks: SEQS * 8, blockSize: 16 });
    for (let s = 0; s < SEQS; s++) kv.allocate(`s${s}`, 1);
    for (let step = 0; step < 64; step++) for (let s = 0; s < SEQS; s++) kv.appendSlot(`s${s}`);
  });
});
