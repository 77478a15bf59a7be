/**
 * Does a Pangu Ultra MoE layer keep more for backward than @moge/memory counts? The count next to
 * what PyTorch held on one H200 (`h200_ultra_activation_memory.py`, data/h200-ultra-activation-memory.json).
 *
 * Why ask: the simulator ranks Pangu Ultra's PP16 × VPP2 plan below plans with fewer stages (ULT-S1),
 * which fit in 64 GiB by this count; `ult-s1-whatif.ts` shows the rank moves only when the
 * activations are 1.6× the count or more. The measurement is one rank's work under the ULT-T1 layout
 * (TP8 + SP, experts over 32 ranks, micro-batch 1 × 4096 tokens, balanced expert load): the bytes one
 * micro-batch keeps per layer (the slope over micro-batches in flight), and the backward's working set
 * on top. A check, not a fit: nothing here changes a profile.
 *
 *   npx tsx --conditions=@moge/source tools/calibrate/ultra-activation-memory.ts
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParallelPlanSchema, parseWith } from '@moge/core';
import { estimateTrainingMemory } from '@moge/memory';
import { getPreset } from '@moge/model';

interface Variant {
  fit: { bytesPerMicroBatchPerLayer: number; backwardWorkingSetBytes: number };
  savedByOneLayerBytes: number;
}
interface Measured {
  shapes: { layers: number };
  results: Record<string, Variant>;
}

const here = dirname(fileURLToPath(import.meta.url));
const measured = JSON.parse(readFileSync(join(here, 'data/h200-ultra-activation-memory.json'), 'utf8')) as Measured;

// The measured shard: ULT-T1's layout at micro-batch 1, no recompute, expert load balanced.
const plan = parseWith(ParallelPlanSchema, { tp: 8, pp: 16, vpp: 2, ep: 32, dp: 48, microBatchSize: 1, globalBatchSize: 6144, seqLength: 4096, sequenceParallel: true, noopLayers: 3 }, 'plan');
const estimate = estimateTrainingMemory(getPreset('pangu-ultra-moe'), plan, { loadImbalanceFactor: 1 });
const moeLayer = estimate.perLayer.find((l) => l.kind === 'moe');
if (!moeLayer) throw new Error('pangu-ultra-moe: no MoE layer in the estimate');
const counted = moeLayer.fullBytes;

const MB = 1e6;
process.stdout.write('one Pangu Ultra MoE layer, one rank, micro-batch 1 × 4096 tokens, no recompute (MB kept for backward)\n');
process.stdout.write(`@moge/memory count                      ${(counted / MB).toFixed(1).padStart(8)}\n`);
for (const [name, v] of Object.entries(measured.results)) {
  const perLayer = v.fit.bytesPerMicroBatchPerLayer;
  process.stdout.write(
    `measured, H200 (${name})`.padEnd(40) +
      `${(perLayer / MB).toFixed(1).padStart(8)}   ×${(perLayer / counted).toFixed(3)} the count` +
      `   (tensors listed ${(v.savedByOneLayerBytes / MB).toFixed(1)}; backward working set ${(v.fit.backwardWorkingSetBytes / MB).toFixed(0)} MB on top, ${measured.shapes.layers} layers)\n`,
  );
}
