/**
 * How much of one Pangu Pro MoE layer's forward + backward compute is memory-bound (elementwise
 * kernels: norms, RoPE, SwiGLU, permute/unpermute, router softmax/top-k, residual adds, ring-attention
 * corrections) in each layout of PRO-T1, as the simulator costs it on Atlas 800T A2: the part fused
 * operators can change. Prints one table per layout and the per-op times of the memory-bound ops.
 *
 * With --sensitivity it also prints the PRO-T1 gain (after/before MFU − 1) when one thing changes:
 * which kernel families the old layout runs unfused, the per-kernel launch cost of the profile, and
 * the top-k popularity skew (the profile's one ULT-T0-fitted number that PRO-T1 depends on). These
 * are what-ifs on the validation cases, not fits: nothing is refitted.
 *
 *   npx tsx --conditions=@moge/source tools/calibrate/pro-t1-elementwise-share.ts [--json] [--sensitivity]
 */
import { isMoeLayer, parseWith, ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { getSimProfile, layerOpBreakdown, plannedMemoryPolicy, prepareTraining, PRO_T1_AFTER, PRO_T1_BEFORE, runCase, type LayerOpBreakdown, type SimProfile, type TrainingCase } from '@moge/sim';

function breakdownOf(c: TrainingCase): LayerOpBreakdown {
  const arch = getPreset(c.arch);
  const cluster = parseClusterSpec(c.cluster);
  let plan = parseWith(ParallelPlanSchema, c.plan, `plan of ${c.id}`);
  if (c.memoryPolicy === 'planner') plan = plannedMemoryPolicy(arch, cluster, plan, c.options);
  const prep = prepareTraining({ arch, cluster, plan, options: c.options }, undefined, { deferMemory: true });
  // The first MoE layer: every Pangu Pro layer is one.
  const layer = Array.from({ length: arch.numLayers }, (_, i) => i).find((i) => isMoeLayer(arch, i)) ?? 0;
  return layerOpBreakdown(prep, layer);
}

const us = (s: number) => (s * 1e6).toFixed(1).padStart(9);
const rows = [PRO_T1_BEFORE, PRO_T1_AFTER].map((c) => ({ id: c.id, b: breakdownOf(c) }));

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  for (const { id, b } of rows) {
    const total = b.byClass.matmul + b.byClass.attention + b.byClass['memory-bound'];
    process.stdout.write(`\n${id}: one MoE layer, one micro-batch, one device, forward + backward compute ${us(total)} µs\n`);
    for (const k of ['matmul', 'attention', 'memory-bound'] as const) {
      process.stdout.write(`  ${k.padEnd(13)} ${us(b.byClass[k])} µs  ${((100 * b.byClass[k]) / total).toFixed(1).padStart(5)} %\n`);
    }
    process.stdout.write('  memory-bound ops (fwd µs, bwd µs):\n');
    for (const op of b.ops.filter((o) => o.opClass === 'memory-bound')) {
      process.stdout.write(`    ${op.name.padEnd(28)} ${us(op.forwardS)} ${us(op.backwardS)}\n`);
    }
  }
}

/** PRO-T1's predicted relative MFU gain with the old layout's options and the profile changed. */
function gain(before: TrainingCase, profile?: SimProfile): number {
  const opts = profile ? { profileData: profile } : {};
  return runCase(PRO_T1_AFTER, opts).mfu / runCase(before, opts).mfu - 1;
}

if (process.argv.includes('--sensitivity')) {
  const pct = (g: number) => `${(100 * g).toFixed(1)} %`;
  const withElementwise = (elementwise: boolean | Record<string, boolean>): TrainingCase => ({
    ...PRO_T1_BEFORE,
    options: { ...PRO_T1_BEFORE.options, fusedOperators: { mc2: false, elementwise } },
  });
  process.stdout.write('\nPRO-T1 relative MFU gain (published 35 %)\n');
  process.stdout.write(`  as modelled (old layout: no fused kernels)      ${pct(gain(PRO_T1_BEFORE))}\n`);
  process.stdout.write(`  old layout with every elementwise kernel fused  ${pct(gain(withElementwise(true)))}\n`);
  for (const family of ['rmsNorm', 'rope', 'swiglu', 'moePermute']) {
    process.stdout.write(`  old layout with only ${family.padEnd(10)} unfused      ${pct(gain(withElementwise({ [family]: false })))}\n`);
  }
  const base = getSimProfile('ascend-910b-training');
  const chip = base.chipEfficiency!;
  for (const launchUs of [0, 2, 5, 10, 20]) {
    const p: SimProfile = { ...base, chipEfficiency: { ...chip, launchOverheadS: { ...chip.launchOverheadS, value: launchUs * 1e-6 } } };
    process.stdout.write(`  launch cost ${String(launchUs).padStart(2)} µs per kernel (profile: ${chip.launchOverheadS.value * 1e6} µs)   ${pct(gain(PRO_T1_BEFORE, p))}\n`);
  }
  for (const zipf of [0, base.topKZipfExponent.value, 0.356]) {
    const p: SimProfile = { ...base, topKZipfExponent: { ...base.topKZipfExponent, value: zipf } };
    process.stdout.write(`  top-k skew ${zipf.toFixed(3)} (profile: ${base.topKZipfExponent.value})            ${pct(gain(PRO_T1_BEFORE, p))}\n`);
  }
}
