import { describe, expect, it } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { CommCostCache } from './comm-cost';
import { planGroups } from './group-layout';
import { layerOps, type LayerShard } from './layer-ops';
import { ComputeCostCache } from './op-cost';
import { costBlock, type BlockCostContext } from './pass-cost';

const cluster = parseClusterSpec('atlas-800t-a2:64');

const shard = (tp: number): LayerShard => ({
  batch: 1,
  seqQ: 4096,
  seqKv: 4096,
  causal: true,
  tp,
  cp: 1,
  ep: 1,
  etp: 1,
  sequenceParallel: tp > 1,
  expertLoadFactor: 1,
  actBytes: 2,
});

const ctx = (tp: number, fusedTpMatmul: boolean): BlockCostContext => ({
  compute: new ComputeCostCache(cluster.node.chip),
  comm: new CommCostCache(cluster),
  groups: planGroups({ tp, cp: 1, dp: 64 / tp, ep: 1, etp: 1 }, cluster.devicesPerNode),
  dispatch: 'flat',
  expertLoadFactor: 1,
  intraLayerOverlap: false,
  recompute: new Set(),
  fusedTpMatmul,
});

describe('TP collectives fused with their matmul (MC2)', () => {
  const arch = getPreset('pangu-pro-moe');
  const layer = 0; // Pangu Pro's layers are all MoE: attention, routed experts and the shared expert

  it('hides TP communication under the adjacent matmul, moving time from exposed to hidden and never below zero', () => {
    const ops = layerOps(arch, layer, shard(8));
    const plain = costBlock(ops, ctx(8, false), false);
    const fused = costBlock(ops, ctx(8, true), false);
    for (const pass of ['forward', 'backward'] as const) {
      expect(fused[pass].comm.tp).toBeLessThan(plain[pass].comm.tp);
      expect(fused[pass].comm.tp).toBeGreaterThanOrEqual(0);
      // Compute is unchanged; exposed + hidden communication is conserved.
      expect(fused[pass].computeS).toBeCloseTo(plain[pass].computeS, 12);
      expect(fused[pass].comm.tp + fused[pass].hiddenS).toBeCloseTo(plain[pass].comm.tp + plain[pass].hiddenS, 12);
    }
  });

  it('changes nothing without tensor parallelism', () => {
    const ops = layerOps(arch, layer, shard(1));
    expect(costBlock(ops, ctx(1, true), false)).toEqual(costBlock(ops, ctx(1, false), false));
  });
});
