import { describe, expect, it } from 'vitest';
import { getPreset } from '@moge/model';
import { attentionOps, type LayerShard } from './layer-ops';
import type { CollectiveOp, MatmulOp } from './ops';

const ultra = getPreset('pangu-ultra-moe');
const m = ultra.mla!;
const shard = (tp: number, sequenceParallel: boolean): LayerShard => ({
  batch: 2,
  seqQ: 4096,
  seqKv: 4096,
  causal: true,
  tp,
  cp: 1,
  ep: 1,
  etp: 1,
  sequenceParallel,
  expertLoadFactor: 1,
  actBytes: 2,
});
const matmul = (ops: ReturnType<typeof attentionOps>, name: string) => ops.find((o): o is MatmulOp => o.kind === 'matmul' && o.name === name)!;
const gathers = (ops: ReturnType<typeof attentionOps>) => ops.filter((o): o is CollectiveOp => o.kind === 'collective' && o.op === 'all-gather');

describe('MLA under tensor parallelism (Megatron-core / MindSpeed)', () => {
  it('runs the unsplit down-projections on the sequence-parallel tokens and all-gathers the latents, not the hidden state', () => {
    const ops = attentionOps(ultra, shard(8, true));
    const tokens = 2 * 4096;
    expect(matmul(ops, 'q-down-proj').m).toBe(tokens / 8);
    expect(matmul(ops, 'kv-down-proj').m).toBe(tokens / 8);
    // The up-projections are split by heads and see every token.
    expect(matmul(ops, 'q-up-proj')).toMatchObject({ m: tokens, n: (ultra.numHeads / 8) * (m.qkNopeHeadDim + m.qkRopeHeadDim) });
    const g = gathers(ops);
    expect(g.map((o) => o.name)).toEqual(['q-latent-all-gather', 'kv-latent-all-gather']);
    expect(g.reduce((s, o) => s + o.bytes, 0)).toBe(tokens * (m.qLoraRank + m.kvLoraRank + m.qkRopeHeadDim) * 2);
    // Less than a third of gathering the 7680-wide hidden state.
    expect(g.reduce((s, o) => s + o.bytes, 0)).toBeLessThan((tokens * ultra.hiddenSize * 2) / 3);
  });

  it('computes the down-projections on every token of every TP rank without sequence parallelism', () => {
    const ops = attentionOps(ultra, shard(8, false));
    expect(matmul(ops, 'q-down-proj').m).toBe(2 * 4096);
    expect(gathers(ops)).toHaveLength(0);
  });
});
