import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { CommCostCache } from './comm-cost';
import { planGroups } from './group-layout';
import { attentionOps, type LayerShard } from './layer-ops';
import { ComputeCostCache } from './op-cost';
import { costBlock, opFlops, type BlockCostContext } from './pass-cost';
import type { CollectiveOp, ComputeOp, LayerOp } from './ops';

const cluster = parseClusterSpec('atlas-800t-a2:64');
const chip = cluster.node.chip;

const shard = (over: Partial<LayerShard>): LayerShard => ({
  batch: 1,
  seqQ: 4096,
  seqKv: 4096,
  causal: true,
  tp: 1,
  cp: 1,
  ep: 1,
  etp: 1,
  sequenceParallel: false,
  expertLoadFactor: 1,
  actBytes: 2,
  ...over,
});

/** A context-parallel shard of a `seq`-token sequence, as the training simulator builds it. */
const cpShard = (seq: number, cp: number, over: Partial<LayerShard> = {}) => shard({ seqQ: seq / cp, seqKv: seq, cp, ...over });

const coreFlops = (ops: LayerOp[]) => ops.filter((o): o is ComputeOp => o.kind === 'attention').reduce((s, o) => s + opFlops(o), 0);
const ringOf = (ops: LayerOp[]) => ops.find((o): o is CollectiveOp => o.kind === 'collective' && o.op === 'send-recv');

function ctxFor(tp: number, cp: number): BlockCostContext {
  return {
    compute: new ComputeCostCache(chip),
    comm: new CommCostCache(cluster),
    groups: planGroups({ tp, cp, dp: 64 / (tp * cp), ep: 1, etp: 1 }, cluster.devicesPerNode),
    dispatch: 'flat',
    expertLoadFactor: 1,
    intraLayerOverlap: false,
    recompute: new Set(),
  };
}

describe('context-parallel ring attention', () => {
  const pro = getPreset('pangu-pro-moe');
  const ultra = getPreset('pangu-ultra-moe');

  it('balances the causal mask: every rank computes 1/cp of the unmasked pairs', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 4, 8), fc.constantFrom(2048, 4096, 8192), fc.constantFrom(pro, ultra), (cp, seq, arch) => {
        const whole = coreFlops(attentionOps(arch, shard({ seqQ: seq, seqKv: seq })));
        const perRank = coreFlops(attentionOps(arch, cpShard(seq, cp)));
        // Causal pairs s(s+1)/2 against cp·(seqQ²/2 + (cp−1)·seqQ²/2): equal up to the diagonal's +s/2.
        expect(perRank * cp).toBeGreaterThan(whole * (1 - 2 / seq));
        expect(perRank * cp).toBeLessThanOrEqual(whole * (1 + 1e-9));
      }),
    );
  });

  it('runs one kernel per block and cp − 1 transfers of one block of K and V, twice that in backward', () => {
    const ops = attentionOps(ultra, cpShard(4096, 8));
    const blocks = ops.filter((o) => o.kind === 'attention');
    expect(blocks).toHaveLength(8);
    const ring = ringOf(ops)!;
    expect(ring.steps).toBe(7);
    const m = ultra.mla!;
    // MLA decompresses K and V for every head before the core.
    expect(ring.bytes).toBe(512 * ultra.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim + m.vHeadDim) * 2);
    expect(ring.backwardBytes).toBe(2 * ring.bytes);
    expect(ring.hideUnder).toEqual(blocks.slice(0, 7).map((b) => b.name));
    expect(ringOf(attentionOps(ultra, shard({})))).toBeUndefined();
  });

  it('leaves exposed exactly what each step does not hide under its own block', () => {
    const ops = attentionOps(ultra, cpShard(4096, 8));
    const ctx = ctxFor(1, 8);
    const ring = ringOf(ops)!;
    const stepF = ctx.comm.ringStep(ring.bytes, ctx.groups.cp);
    const stepB = ctx.comm.ringStep(ring.backwardBytes!, ctx.groups.cp);
    const t = (name: string) => ctx.compute.times(ops.find((o) => o.name === name) as ComputeOp);
    let fwd = 0;
    let bwd = 0;
    for (const name of ring.hideUnder!) {
      fwd += Math.max(0, stepF - t(name).forwardS);
      bwd += Math.max(0, stepB - t(name).backwardInputS - t(name).backwardWeightS);
    }
    bwd += ctx.comm.ringStep(ring.backwardBytes! - ring.bytes, ctx.groups.cp);
    const cost = costBlock(ops, ctx, false);
    expect(cost.forward.comm.cp).toBeCloseTo(fwd, 12);
    expect(cost.backward.comm.cp).toBeCloseTo(bwd, 12);
    // 128 MLA heads' K,V over one HCCS link outrun a 512-token block: ring attention is exchange-bound here.
    expect(cost.forward.comm.cp).toBeGreaterThan(0);
  });

  it('recomputing the attention core re-runs its ring exchange as well', () => {
    const ops = attentionOps(ultra, cpShard(4096, 8));
    const plain = costBlock(ops, ctxFor(1, 8), false);
    const recomputed = costBlock(ops, { ...ctxFor(1, 8), recompute: new Set(['attention-core']) }, false);
    // Every kernel of the core re-runs: the blocks and the online-softmax corrections between them.
    const kernels = ops.filter((o): o is ComputeOp => o.kind !== 'collective' && o.kind !== 'expert-exchange' && o.module === 'attention-core').reduce((s, o) => s + ctxFor(1, 8).compute.times(o).forwardS, 0);
    expect(plain.recomputeS).toBe(0);
    expect(recomputed.recomputeS).toBeCloseTo(kernels + plain.forward.comm.cp, 12);
  });

  it('is paced by the scale-out link when the ring spans nodes', () => {
    const ops = attentionOps(pro, cpShard(4096, 8, { tp: 2 }));
    const inNode = costBlock(ops, ctxFor(1, 8), false);
    const acrossNodes = costBlock(ops, ctxFor(2, 8), false); // tp2 × cp8 = 16 ranks: two nodes
    expect(ctxFor(2, 8).groups.cp.ranksPerNode).toBeLessThan(8);
    expect(acrossNodes.forward.comm.cp + acrossNodes.forward.hiddenS).toBeGreaterThan(inNode.forward.comm.cp + inNode.forward.hiddenS);
  });
});
