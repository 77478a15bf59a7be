import type { MoeArch } from '@moge/core';
import type { LayerShard } from '../common/layer-ops';
import type { ComputeCostCache } from '../common/op-cost';
import type { CommCostCache } from '../common/comm-cost';
import type { BlockCost, BlockCostContext } from '../common/pass-cost';

/**
 * Block costs (a layer's, the embedding's, the head's, an MTP module's) shared by the plans of one
 * search. A block's cost depends on the architecture, the layer shard (micro-batch, sequence, TP, CP,
 * EP, ETP, expert load, fusion) and the parts of the cost context its ops read (the TP, CP, EP and ETP
 * group layouts, dispatch, overlap, fine recompute, MC2), not on PP, VPP or DP; a search looks at
 * many plans that differ only in those, and costed every block of each afresh (half its time). The
 * key holds every input a block's cost reads, so a cached cost is the one costBlock would return.
 * One memo serves one pair of compute and communication caches: the costs are theirs.
 */
export class BlockCostMemo {
  private readonly byArch = new WeakMap<MoeArch, Map<string, Map<string, BlockCost>>>();

  constructor(
    readonly compute: ComputeCostCache,
    readonly comm: CommCostCache,
  ) {}

  /** The lookup for one plan's blocks: `key` names the block (kind, recompute), `make` costs it. */
  scope(arch: MoeArch, shard: LayerShard, ctx: BlockCostContext): (key: string, make: () => BlockCost) => BlockCost {
    if (ctx.compute !== this.compute || ctx.comm !== this.comm) {
      throw new Error('BlockCostMemo: the plan is costed with other compute or communication caches than the memo was made for');
    }
    let costs = this.byArch.get(arch);
    if (!costs) this.byArch.set(arch, (costs = new Map()));
    const { groups } = ctx;
    const context = JSON.stringify([
      shard,
      groups.tp,
      groups.cp,
      groups.ep,
      groups.etp,
      ctx.dispatch,
      ctx.expertLoadFactor,
      ctx.intraLayerOverlap,
      [...ctx.recompute].sort(),
      ctx.fusedTpMatmul ?? false,
    ]);
    // Resolved once per plan: the lookups per layer then hash only the short block key.
    let blocks = costs.get(context);
    if (!blocks) costs.set(context, (blocks = new Map()));
    return blockLookup(blocks);
  }
}

/** Get-or-cost over `costs`: a block kind is costed once, on first use. */
export function blockLookup(costs: Map<string, BlockCost>): (key: string, make: () => BlockCost) => BlockCost {
  return (key, make) => {
    let c = costs.get(key);
    if (!c) costs.set(key, (c = make()));
    return c;
  };
}
