import { isMoeLayer, layerParams, type MoeArch, type ParallelPlan } from '@moge/core';
import { layerSlots, type LayerSlot } from '@moge/memory';
import { embeddingOps, headOps, layerOps, mtpBodyOps, mtpHeadOps, mtpOps, type LayerShard } from '../common/layer-ops';
import { accumulatePass, costBlock, emptyPass, sumComm, type BlockCost, type BlockCostContext, type PassCost } from '../common/pass-cost';
import { blockLookup, type BlockCostMemo } from './block-cost-memo';
import { balancedLayerSlots, chunkBalancedSplit, type LayerLayout } from './layer-layout';

/** A block that runs inside a model chunk: a transformer layer, a no-op slot, or the model's ends. */
export interface ChunkBlock {
  kind: 'embedding' | 'dense' | 'moe' | 'noop' | 'head' | 'mtp';
  /** Layer index for dense/moe/noop (no-op slots follow the real layers), MTP depth for mtp. */
  layer: number;
  cost: BlockCost;
  /** Whole-block recompute applies to this block. */
  fullRecompute: boolean;
  /** Exposed host-swap time of one micro-batch: out during forward, back in during backward. */
  swapOutS: number;
  swapInS: number;
  /** Parameters this device holds for the block, split by how they are reduced over data parallel. */
  denseParams: number;
  expertParams: number;
}

/** Everything one model chunk of one stage does for one micro-batch. */
export interface ChunkWork {
  stage: number;
  chunk: number;
  blocks: ChunkBlock[];
  forward: PassCost;
  backward: PassCost;
  recomputeS: number;
  swapS: number;
  /** Parameters this device holds for the chunk, split by how they are reduced over data parallel. */
  denseParams: number;
  expertParams: number;
}

const zeroBlock = (): BlockCost => ({ forward: emptyPass(), backward: emptyPass(), recomputeS: 0, forwardFlops: 0 });

export interface StageWorkInput {
  arch: MoeArch;
  plan: ParallelPlan;
  shard: LayerShard;
  ctx: BlockCostContext;
  /** Activation bytes each layer swaps to host memory (from @moge/memory's estimate; empty when nothing swaps). */
  swappedBytes: ReadonlyMap<number, number>;
  /** Host link one way, for swapped activations. */
  hostBandwidth: number;
  hostLatencyS: number;
  /** Let swap transfers run under the layer's compute (prefetch). */
  overlapSwap: boolean;
  /** How layers are split over the model chunks (see LayerLayout). */
  layout: LayerLayout;
  /** Where the output head and the MTP modules go (see TailPlacement); default `last-chunk`. */
  tail?: TailPlacement;
  /** Block costs shared with other plans of a search (absent: each block kind costed here, once). */
  blockCosts?: BlockCostMemo;
}

/**
 * How the balanced layout splits the model, and where the model's tail (output head, MTP modules) runs:
 * - `last-chunk`: layers split so the stages (all their chunks summed) even out, with the head and
 *   every MTP module (with its pass through the head) on the last model chunk — Megatron's default place;
 * - `own-stages`: the same stage balance, but the MTP modules alone on the second-to-last virtual stage
 *   and the loss (the heads of the main model and of every MTP module) alone on the last one —
 *   Megatron-core's `--pipeline-model-parallel-layout` with `…|m|L`, as its DeepSeek-V3 recipe does
 *   for 61 layers + 1 MTP on PP16 × VPP2 (`Et*3|(tt|)*29,m|L`);
 * - `chunk-balanced`: the layers, MTP modules and loss as one sequence split so the heaviest virtual
 *   stage is as light as possible (any split that layout flag can write).
 * Under the interleaved schedule every rank runs its chunks in a fixed order and waits on the
 * slowest chunk of each round, so one chunk carrying the head and an MTP module (about three layers'
 * work on top of its own) slows every rank; stage balance is what plain 1F1B needs.
 */
export type TailPlacement = 'last-chunk' | 'own-stages' | 'chunk-balanced';

/** One way to lay the model out, with its per-chunk work; `layout` in Megatron-core's notation. */
export interface LayoutCandidate {
  tail: TailPlacement;
  layout: string;
  work: ChunkWork[][];
}

/**
 * The layouts worth simulating for a plan: the uniform one alone when asked for; with `balanced`,
 * the stage-balanced split with the tail on the last chunk and, for interleaved schedules with room
 * for them, the `own-stages` and `chunk-balanced` splits (see TailPlacement). The simulator runs each
 * schedule and keeps the fastest: which split wins depends on the schedule, not on a formula.
 */
export function buildLayoutCandidates(input: StageWorkInput): LayoutCandidate[] {
  return layoutTails(input).map((tail) => buildLayoutCandidate(input, tail));
}

/** Which splits buildLayoutCandidates tries for this plan, the default (`last-chunk`) first. */
export function layoutTails(input: Pick<StageWorkInput, 'arch' | 'plan' | 'layout'>): TailPlacement[] {
  const { arch, plan } = input;
  const tails: TailPlacement[] = ['last-chunk'];
  const tailStages = arch.mtpDepth > 0 ? 2 : 1;
  if (input.layout === 'balanced' && plan.vpp > 1 && plan.pp * plan.vpp > tailStages) tails.push('own-stages', 'chunk-balanced');
  return tails;
}

/** One candidate split with its per-chunk work. */
export function buildLayoutCandidate(input: StageWorkInput, tail: TailPlacement): LayoutCandidate {
  const work = buildStageWork({ ...input, tail });
  return { tail, layout: megatronLayout(work, input.plan.pp), work };
}

/** The layout in Megatron-core's `--pipeline-model-parallel-layout` notation: E embedding, t layer, m MTP, L loss; `|` between virtual stages. */
export function megatronLayout(work: ChunkWork[][], pp: number): string {
  const vpp = work[0]?.length ?? 0;
  const stages: string[] = [];
  for (let v = 0; v < pp * vpp; v++) {
    const w = work[v % pp]![Math.floor(v / pp)]!;
    stages.push(w.blocks.map((b) => (b.kind === 'embedding' ? 'E' : b.kind === 'head' ? 'L' : b.kind === 'mtp' ? 'm' : b.kind === 'noop' ? '' : 't')).join(''));
  }
  return stages.join('|');
}

const layoutCache = new Map<string, LayerSlot[]>();

/** One micro-batch's work of a block on its stage, as the layout balances it. */
function blockWeightS(c: BlockCost): number {
  return c.forward.computeS + c.backward.computeS + c.recomputeS + sumComm(c.forward.comm) + sumComm(c.backward.comm);
}

/**
 * Lays the model out over pipeline stages and model chunks and costs each chunk's forward and
 * backward. The uniform layout is Megatron's, taken from @moge/memory so memory and time agree on
 * which layer sits where; the balanced one moves layers off the stages that carry the embedding, head
 * and MTP, and with `tail` may give the MTP modules and the loss virtual stages of their own (memory
 * is still estimated on the uniform layout, whose peak stage — the first, with the most micro-batches
 * in flight — holds about as many layers). Layers of the same kind cost the same, so each kind is
 * costed once.
 */
export function buildStageWork(input: StageWorkInput): ChunkWork[][] {
  const { arch, plan, shard, ctx } = input;
  const recomputeLayer = plan.recompute.includes('layer');
  // Without a memo shared across plans, each block kind is still costed once for this plan.
  const cost = input.blockCosts?.scope(arch, shard, ctx) ?? blockLookup(new Map());
  const swapped = input.swappedBytes;
  const swapTime = (bytes: number) => (bytes > 0 ? bytes / input.hostBandwidth + input.hostLatencyS : 0);

  const work: ChunkWork[][] = Array.from({ length: plan.pp }, (_, stage) =>
    Array.from({ length: plan.vpp }, (_, chunk) => ({ stage, chunk, blocks: [], forward: emptyPass(), backward: emptyPass(), recomputeS: 0, swapS: 0, denseParams: 0, expertParams: 0 })),
  );
  // A search builds this for every plan it looks at (≈ 10⁵ for a ranges search): blocks are built as
  // literals of one shape and parameter counts looked up per block kind, not spread and recounted.
  const paramsOf = new Map<ChunkBlock['kind'], { dense: number; expert: number }>();
  const push = (w: ChunkWork, kind: ChunkBlock['kind'], layer: number, cost: BlockCost, fullRecompute: boolean, swap: { swapOutS: number; swapInS: number }) => {
    let p = paramsOf.get(kind); // a block's parameters depend on its kind only (blockParams)
    if (!p) paramsOf.set(kind, (p = blockParams(arch, plan, { kind, layer })));
    w.blocks.push({ kind, layer, cost, fullRecompute, swapOutS: swap.swapOutS, swapInS: swap.swapInS, denseParams: p.dense, expertParams: p.expert });
  };
  const noSwap = { swapOutS: 0, swapInS: 0 };

  const embeddingCost = cost('embedding', () => costBlock(embeddingOps(arch, shard), ctx, false));
  const ownTail = (input.tail === 'own-stages' || input.tail === 'chunk-balanced') && input.layout === 'balanced';
  // With the tail on stages of its own the MTP modules leave their head passes to the loss stage.
  const headCost = ownTail
    ? cost('loss', () => costBlock([...headOps(arch, shard), ...Array.from({ length: arch.mtpDepth }, (_, d) => mtpHeadOps(arch, shard, d)).flat()], ctx, false))
    : cost('head', () => costBlock(headOps(arch, shard), ctx, false));
  const mtpCost = ownTail
    ? cost(`mtp-body:${recomputeLayer}`, () => costBlock(mtpBodyOps(arch, shard, 0), ctx, recomputeLayer))
    : cost(`mtp:${recomputeLayer}`, () => costBlock(mtpOps(arch, shard, 0), ctx, recomputeLayer));
  const numVirtual = plan.pp * plan.vpp;
  // Virtual stage of each MTP module (all on one stage unless the chunk-balanced split separates them).
  const mtpVirtual = new Array<number>(arch.mtpDepth).fill(ownTail ? numVirtual - 1 - (arch.mtpDepth > 0 ? 1 : 0) : numVirtual - 1);
  const kindCost = (layer: number, full: boolean) => {
    const kind = isMoeLayer(arch, layer) ? 'moe' : 'dense';
    return cost(`${kind}:${full}`, () => costBlock(layerOps(arch, layer, shard), ctx, full));
  };
  let slots: LayerSlot[];
  if (input.layout === 'balanced' && input.tail === 'chunk-balanced') {
    // Units in pipeline order: the layers (the first with the embedding), the MTP modules, the loss.
    const units = Array.from({ length: arch.numLayers }, (_, layer) => blockWeightS(kindCost(layer, recomputeLayer)));
    units[0]! += blockWeightS(embeddingCost);
    for (let d = 0; d < arch.mtpDepth; d++) units.push(blockWeightS(mtpCost));
    units.push(blockWeightS(headCost));
    const part = chunkBalancedSplit(units, numVirtual);
    slots = Array.from({ length: arch.numLayers }, (_, layer) => ({ layer, stage: part[layer]! % plan.pp, chunk: Math.floor(part[layer]! / plan.pp) }));
    for (let d = 0; d < arch.mtpDepth; d++) mtpVirtual[d] = part[arch.numLayers + d]!;
  } else if (input.layout === 'balanced') {
    const extraCostS = new Array<number>(numVirtual).fill(0);
    extraCostS[0]! += blockWeightS(embeddingCost);
    extraCostS[numVirtual - 1]! += blockWeightS(headCost);
    extraCostS[mtpVirtual[0] ?? numVirtual - 1]! += arch.mtpDepth * blockWeightS(mtpCost);
    const layerVirtualStages = ownTail ? numVirtual - (arch.mtpDepth > 0 ? 2 : 1) : numVirtual;
    const layerCostS = Array.from({ length: arch.numLayers }, (_, layer) => blockWeightS(kindCost(layer, recomputeLayer)));
    // The layout depends only on these few numbers; a search meets the same ones for many plans.
    const key = `${plan.pp}:${plan.vpp}:${layerVirtualStages}:${arch.numLayers}:${arch.numDenseLayers}:${layerCostS[0]}:${layerCostS[arch.numLayers - 1]}:${extraCostS[0]}:${extraCostS[mtpVirtual[0] ?? 0]}:${extraCostS[numVirtual - 1]}`;
    slots = layoutCache.get(key) ?? balancedLayerSlots({ pp: plan.pp, vpp: plan.vpp, layerCostS, extraCostS, layerVirtualStages });
    if (layoutCache.size > 4096) layoutCache.clear();
    layoutCache.set(key, slots);
  } else {
    slots = layerSlots(arch, plan);
  }

  push(work[0]![0]!, 'embedding', -1, embeddingCost, false, noSwap);
  const indexInChunk = new Map<string, number>();
  for (const slot of slots) {
    const w = work[slot.stage]![slot.chunk]!;
    if (slot.layer >= arch.numLayers) {
      push(w, 'noop', slot.layer, zeroBlock(), false, noSwap);
      continue;
    }
    const k = `${slot.stage}/${slot.chunk}`;
    const idx = indexInChunk.get(k) ?? 0;
    indexInChunk.set(k, idx + 1);
    const full = recomputeLayer && (plan.recomputeNumLayers === undefined || idx < plan.recomputeNumLayers);
    const kind = isMoeLayer(arch, slot.layer) ? 'moe' : 'dense';
    const c = kindCost(slot.layer, full);
    const t = swapTime(swapped.get(slot.layer) ?? 0);
    push(w, kind, slot.layer, c, full, swapExposure(t, c, input.overlapSwap));
  }
  const last = work[plan.pp - 1]![plan.vpp - 1]!;
  if (!ownTail) push(last, 'head', -1, headCost, false, noSwap);
  for (let d = 0; d < arch.mtpDepth; d++) {
    // Every MTP depth has the same shape; only op names differ.
    const c = mtpCost;
    const t = swapTime(swapped.get(arch.numLayers + plan.noopLayers + d) ?? 0);
    const v = mtpVirtual[d]!;
    push(work[v % plan.pp]![Math.floor(v / plan.pp)]!, 'mtp', d, c, recomputeLayer, swapExposure(t, c, input.overlapSwap));
  }
  if (ownTail) push(last, 'head', -1, headCost, false, noSwap);

  for (const w of work.flat()) {
    for (const b of w.blocks) {
      // In place: each chunk's passes are its own (a fresh emptyPass above).
      accumulatePass(w.forward, b.cost.forward);
      accumulatePass(w.backward, b.cost.backward);
      w.recomputeS += b.cost.recomputeS;
      w.swapS += b.swapOutS + b.swapInS;
      w.denseParams += b.denseParams;
      w.expertParams += b.expertParams;
    }
  }
  return work;
}

/** Swap-out hides under the block's forward, swap-in (prefetched) under its backward, when allowed. */
function swapExposure(timeS: number, c: BlockCost, overlap: boolean): { swapOutS: number; swapInS: number } {
  if (!overlap) return { swapOutS: timeS, swapInS: timeS };
  return { swapOutS: Math.max(0, timeS - c.forward.computeS), swapInS: Math.max(0, timeS - c.backward.computeS) };
}

/** Parameters one device holds for a block: dense ones split over TP, experts over EP × ETP. */
function blockParams(arch: MoeArch, plan: ParallelPlan, b: Pick<ChunkBlock, 'kind' | 'layer'>): { dense: number; expert: number } {
  const h = arch.hiddenSize;
  switch (b.kind) {
    case 'embedding':
      return { dense: (arch.vocabSize * h) / plan.tp, expert: 0 };
    case 'head':
      return { dense: arch.tiedEmbeddings ? 0 : (arch.vocabSize * h) / plan.tp, expert: 0 };
    case 'noop':
      return { dense: 0, expert: 0 };
    case 'mtp': {
      const lp = layerParams(arch, arch.numLayers - 1);
      return { dense: (lp.total - lp.routedExperts + 2 * h * h) / plan.tp, expert: lp.routedExperts / (plan.ep * plan.etp) };
    }
    default: {
      const lp = layerParams(arch, b.layer);
      return { dense: (lp.total - lp.routedExperts) / plan.tp, expert: lp.routedExperts / (plan.ep * plan.etp) };
    }
  }
}
