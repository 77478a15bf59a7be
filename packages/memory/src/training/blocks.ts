import type { MoeArch, ParallelPlan } from '@moge/core';
import { activationShape, layerKind, type ActivationShape, type ActivationTensor, type BlockKind, type FineRecompute } from './activation-shape';
import { attentionActivations } from './attention-activations';
import { denseMlpActivations, moeActivations } from './ffn-activations';
import type { TrainingMemoryOptions } from './options';
import { fineRecomputeCosts, layerForwardCommBytes, layerForwardFlops, ZERO_COST, type RecomputeCost } from './recompute-cost';
import { layerSlots } from './stage-layout';

/**
 * A unit of activations on one stage: a transformer layer, a no-op slot, an MTP module, or the
 * embedding / output head around the stack. Layers and MTP modules can be recomputed whole.
 */
export interface ActivationBlock {
  kind: BlockKind;
  /** Global slot index for layers and no-ops; numLayers + noopLayers + d for MTP depth d; −1 for embedding and head. */
  layer: number;
  stage: number;
  chunk: number;
  /** Position among the recomputable blocks of its chunk, in forward order (Megatron's block recompute takes the first n). */
  indexInChunk: number;
  tensors: ActivationTensor[];
  /** What whole-block recompute keeps: the block's input(s). Null when the block cannot be recomputed whole. */
  checkpointBytes: number | null;
  /** Cost of each fine-grained option (zero where the option frees nothing). */
  fineCosts: Record<FineRecompute, RecomputeCost>;
  /** Cost of re-running the whole block forward. */
  layerCost: RecomputeCost;
}

const NO_FINE_COST: Record<FineRecompute, RecomputeCost> = {
  norm: ZERO_COST,
  activation: ZERO_COST,
  'attention-core': ZERO_COST,
  'mla-up-proj': ZERO_COST,
  permute: ZERO_COST,
};

function transformerLayerTensors(arch: MoeArch, kind: 'dense' | 'moe', s: ActivationShape, etp: number): ActivationTensor[] {
  return [...attentionActivations(arch, s), ...(kind === 'dense' ? denseMlpActivations(arch, s) : moeActivations(arch, s, etp))];
}

function wholeLayerCost(arch: MoeArch, kind: 'dense' | 'moe', s: ActivationShape, etp: number, fine: Record<FineRecompute, RecomputeCost>): RecomputeCost {
  return {
    flops: layerForwardFlops(arch, kind, s, etp),
    memoryBytes: fine.norm.memoryBytes + fine.activation.memoryBytes + fine.permute.memoryBytes,
    commBytes: layerForwardCommBytes(arch, kind, s),
  };
}

/** Output head on the last stage: final norm, its output (the head's input), fp32 logits for the vocab-parallel cross-entropy. */
function headTensors(arch: MoeArch, s: ActivationShape, prefix: string): ActivationTensor[] {
  const h = arch.hiddenSize;
  return [
    { name: `${prefix}.final-norm-input`, bytes: s.bytes * h * s.spTokens, recompute: null, swap: null },
    { name: `${prefix}.final-norm-output`, bytes: s.bytes * h * s.spTokens, recompute: 'norm', swap: null },
    // Megatron's vocab-parallel cross-entropy keeps exp(logits) in fp32 (Korthikanti et al. §4.3: 4·s·b·v/t).
    { name: `${prefix}.logits-fp32`, bytes: 4 * (arch.vocabSize / s.tp) * s.tokens, recompute: null, swap: null },
  ];
}

function headBlock(arch: MoeArch, s: ActivationShape, at: { stage: number; chunk: number }, prefix: string): ActivationBlock {
  const tensors = headTensors(arch, s, prefix);
  return { kind: 'head', layer: -1, ...at, indexInChunk: -1, tensors, checkpointBytes: null, fineCosts: fineRecomputeCosts(arch, tensors, s), layerCost: ZERO_COST };
}

/** Every activation block of every stage, in forward order per stage and chunk. */
export function buildActivationBlocks(arch: MoeArch, plan: ParallelPlan, options: TrainingMemoryOptions): ActivationBlock[] {
  const s = activationShape(arch, plan, options);
  const h = arch.hiddenSize;
  const blocks: ActivationBlock[] = [];
  const embeddingTensors: ActivationTensor[] = [{ name: 'embedding.token-ids', bytes: 8 * s.tokens, recompute: null, swap: null }];
  if (options.dropout) embeddingTensors.push({ name: 'embedding.dropout-mask', bytes: h * s.spTokens, recompute: null, swap: null });
  blocks.push({ kind: 'embedding', layer: -1, stage: 0, chunk: 0, indexInChunk: -1, tensors: embeddingTensors, checkpointBytes: null, fineCosts: NO_FINE_COST, layerCost: ZERO_COST });

  const perChunkIndex = new Map<string, number>();
  const nextIndex = (stage: number, chunk: number) => {
    const key = `${stage}/${chunk}`;
    const i = perChunkIndex.get(key) ?? 0;
    perChunkIndex.set(key, i + 1);
    return i;
  };
  for (const slot of layerSlots(arch, plan)) {
    const kind = layerKind(arch, slot.layer);
    const indexInChunk = nextIndex(slot.stage, slot.chunk);
    if (kind === 'noop') {
      blocks.push({ kind, ...slot, indexInChunk, tensors: [], checkpointBytes: 0, fineCosts: NO_FINE_COST, layerCost: ZERO_COST });
      continue;
    }
    const tensors = transformerLayerTensors(arch, kind, s, plan.etp);
    const fineCosts = fineRecomputeCosts(arch, tensors, s);
    blocks.push({
      kind,
      ...slot,
      indexInChunk,
      tensors,
      checkpointBytes: s.bytes * h * s.spTokens,
      fineCosts,
      layerCost: wholeLayerCost(arch, kind, s, plan.etp, fineCosts),
    });
  }

  const last = { stage: plan.pp - 1, chunk: plan.vpp - 1 };
  const mtpKind = layerKind(arch, arch.numLayers - 1) === 'moe' ? 'moe' : 'dense';
  for (let d = 0; d < arch.mtpDepth; d++) {
    // DeepSeek-V3 MTP module: norm the main stream and the next token's embedding, project the concat
    // (2h → h), one transformer layer, then the shared head with its own logits.
    const inputs: ActivationTensor[] = [
      { name: 'mtp.hidden-norm-input', bytes: s.bytes * h * s.spTokens, recompute: null, swap: 'layer-input' },
      { name: 'mtp.embedding-norm-input', bytes: s.bytes * h * s.spTokens, recompute: null, swap: 'layer-input' },
      { name: 'mtp.proj-input', bytes: s.bytes * 2 * h * s.spTokens, recompute: 'norm', swap: 'layer-input' },
    ];
    const tensors = [...inputs, ...transformerLayerTensors(arch, mtpKind, s, plan.etp)];
    const fineCosts = fineRecomputeCosts(arch, tensors, s);
    const cost = wholeLayerCost(arch, mtpKind, s, plan.etp, fineCosts);
    cost.flops += 2 * s.tokens * 2 * h * (h / plan.tp);
    blocks.push({
      kind: 'mtp',
      layer: arch.numLayers + plan.noopLayers + d,
      ...last,
      indexInChunk: nextIndex(last.stage, last.chunk),
      tensors,
      checkpointBytes: 2 * s.bytes * h * s.spTokens,
      fineCosts,
      layerCost: cost,
    });
    blocks.push(headBlock(arch, s, last, `mtp${d}.head`));
  }
  blocks.push(headBlock(arch, s, last, 'head'));
  return blocks;
}
