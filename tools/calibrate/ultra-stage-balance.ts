/**
 * How heavy Pangu Ultra MoE's loss stage is against one MoE layer, simulated and measured — the ratio
 * that decides how much stage imbalance Pangu Ultra's PP16 × VPP2 plan pays (ULT-S1).
 *
 * The measurement is `h200_ultra_stage_costs.py` (data/h200-ultra-stage-costs.json): one device's
 * compute under the ULT-T1 layout (TP8 + SP, experts over 32 ranks, micro-batch 1 × 4096 tokens,
 * balanced expert load, collectives left out) on one H200. This prints the simulator's cost of the
 * same work on an H200 (its measured-kernel profile, communication ops skipped), op by op for the
 * forward pass and per block for forward + backward, and the same ratio on Atlas 800T A2 (the
 * profile the validation cases use). A check, not a fit: nothing here changes a profile.
 *
 *   npx tsx --conditions=@moge/source tools/calibrate/ultra-stage-balance.ts [--json]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMoeLayer } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { ComputeCostCache, defaultSimProfileFor, getSimProfile, headOps, isCommOp, layerOps, mtpHeadOps } from '@moge/sim';

interface BlockTimes {
  moeLayer: { forwardMs: number; forwardBackwardMs: number };
  lossStage: { forwardMs: number; forwardBackwardMs: number };
}
/** The script's runs (`eager`, `compiled` with --compiled) and, with --per-op, each op alone. */
interface Measured {
  results: { eager: BlockTimes; compiled?: BlockTimes; perOpEager?: Record<string, { forwardMs: number; backwardMs: number }> };
}

const here = dirname(fileURLToPath(import.meta.url));
const measured = JSON.parse(readFileSync(join(here, 'data/h200-ultra-stage-costs.json'), 'utf8')) as Measured;

const arch = getPreset('pangu-ultra-moe');
const moeLayer = Array.from({ length: arch.numLayers }, (_, i) => i).find((i) => isMoeLayer(arch, i)) ?? 0;
// The measured shard: ULT-T1's layout at micro-batch 1, expert load balanced.
const shard = { batch: 1, seqQ: 4096, seqKv: 4096, causal: true, tp: 8, cp: 1, ep: 32, etp: 1, sequenceParallel: true, expertLoadFactor: 1, actBytes: 2 };

/** Forward and backward compute (ms) of an op list on a cluster's chip, communication skipped. */
function simulate(clusterSpec: string, profileName?: string) {
  const chip = parseClusterSpec(clusterSpec).node.chip;
  const profile = profileName ? getSimProfile(profileName) : defaultSimProfileFor(chip.name);
  const cache = new ComputeCostCache(chip, 'bf16', profile.chipEfficiency);
  const cost = (ops: ReturnType<typeof layerOps>) => {
    const perOp = ops.filter((op) => !isCommOp(op)).map((op) => {
      const t = cache.times(op);
      return { name: op.name, forwardMs: t.forwardS * 1e3, backwardMs: (t.backwardInputS + t.backwardWeightS) * 1e3 };
    });
    const forwardMs = perOp.reduce((s, o) => s + o.forwardMs, 0);
    return { perOp, forwardMs, forwardBackwardMs: forwardMs + perOp.reduce((s, o) => s + o.backwardMs, 0) };
  };
  const layer = cost(layerOps(arch, moeLayer, shard));
  // The loss stage: the main head and the MTP module's pass through the head, each with its loss.
  const loss = cost([...headOps(arch, shard), ...Array.from({ length: arch.mtpDepth }, (_, d) => mtpHeadOps(arch, shard, d)).flat()]);
  return { profile: profile.name, layer, loss, lossOverLayer: loss.forwardBackwardMs / layer.forwardBackwardMs };
}

const h200 = simulate('hgx-h200:8');
const ascend = simulate('atlas-800t-a2:8', 'ascend-910b-training');
const report = {
  simulatedH200: { profile: h200.profile, moeLayerMs: h200.layer.forwardBackwardMs, lossStageMs: h200.loss.forwardBackwardMs, lossOverLayer: h200.lossOverLayer },
  measuredH200: Object.fromEntries(
    (['eager', 'compiled'] as const).flatMap((run) => {
      const r = measured.results[run];
      return r ? [[run, { moeLayerMs: r.moeLayer.forwardBackwardMs, lossStageMs: r.lossStage.forwardBackwardMs, lossOverLayer: r.lossStage.forwardBackwardMs / r.moeLayer.forwardBackwardMs }]] : [];
    }),
  ),
  simulatedAtlas800tA2: { profile: ascend.profile, moeLayerMs: ascend.layer.forwardBackwardMs, lossStageMs: ascend.loss.forwardBackwardMs, lossOverLayer: ascend.lossOverLayer },
};

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const f = (x: number) => x.toFixed(2).padStart(8);
  process.stdout.write('one device, micro-batch 1 × 4096 tokens, forward + backward compute (ms); loss stage = 2 heads + their losses\n');
  process.stdout.write(`${'source'.padEnd(34)}${'MoE layer'.padStart(10)}${'loss stage'.padStart(12)}${'ratio'.padStart(8)}\n`);
  const row = (name: string, r: { moeLayerMs: number; lossStageMs: number; lossOverLayer: number }) =>
    process.stdout.write(`${name.padEnd(34)}  ${f(r.moeLayerMs)}    ${f(r.lossStageMs)}${f(r.lossOverLayer)}\n`);
  row(`simulated, H200 (${h200.profile})`, report.simulatedH200);
  for (const [k, r] of Object.entries(report.measuredH200)) row(`measured, H200 (${k})`, r);
  row(`simulated, 910B (${ascend.profile})`, report.simulatedAtlas800tA2);
  const ops = measured.results.perOpEager;
  if (ops) {
    process.stdout.write('\nMoE layer forward, op by op (ms): simulated H200 vs measured alone (eager)\n');
    const f3 = (x: number) => x.toFixed(3).padStart(8);
    for (const o of h200.layer.perOp) {
      const m = ops[o.name];
      process.stdout.write(`  ${o.name.padEnd(22)}${f3(o.forwardMs)}${m ? f3(m.forwardMs) : '       —'}\n`);
    }
  }
}
