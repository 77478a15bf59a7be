import { dtypeBytes, layerParams, type MoeArch, type ParallelPlan } from '@moge/core';
import { planExpertDataParallel } from '@moge/core';
import type { TrainingMemoryOptions } from './options';
import { layerSlots } from './stage-layout';

/** Parameters one device of a stage holds, split by how the optimizer shards them. */
export interface StageParams {
  /** Attention, norms, dense/shared FFN, router, embedding, head, MTP glue — per device after TP. */
  dense: number;
  /** Routed experts — per device after EP × ETP. */
  expert: number;
  /**
   * The part of `dense` that quantised inference keeps in 16 bits: embedding and head tables, norms and
   * router gates (what vLLM-Ascend / MindIE W8A8 and W4A8 leave unquantised).
   */
  highPrecision: number;
}

/**
 * MLA down-projections (and their norms) are computed in full on every TP rank in Megatron-LM's MLA, so
 * their weights are replicated; the rest of attention is split over TP.
 */
function replicatedAttentionParams(arch: MoeArch): number {
  if (arch.attention !== 'mla') return 0;
  const m = arch.mla!;
  const h = arch.hiddenSize;
  const q = m.qLoraRank > 0 ? h * m.qLoraRank + m.qLoraRank : 0;
  return q + h * (m.kvLoraRank + m.qkRopeHeadDim) + m.kvLoraRank;
}

/**
 * GQA K and V projections (weights and biases) a TP rank holds beyond an even 1/tp share. Serving
 * replicates a KV head on tp / numKvHeads ranks when tp exceeds the head count (vLLM's
 * QKVParallelLinear), so each rank keeps ⌈numKvHeads / tp⌉ heads of K and V, not numKvHeads / tp of
 * them; 0 whenever tp divides the KV heads (always in training, which refuses other splits).
 */
function replicatedKvParams(arch: MoeArch, tp: number): number {
  if (arch.attention === 'mla') return 0;
  const kvHead = 2 * arch.headDim * (arch.hiddenSize + (arch.attentionBias ? 1 : 0));
  return kvHead * (Math.ceil(arch.numKvHeads / tp) - arch.numKvHeads / tp);
}

/**
 * Biases of row-parallel linears, whole on every TP rank: the attention output projection (o_proj) is
 * a RowParallelLinear in Megatron-LM and vLLM alike, which splits its weight over the input dimension
 * and adds its bias once, whole, after the reduce. GQA's `attentionBias` includes that bias (h of
 * them); MLA and the SwiGLU FFNs here have no biases, so there are no down-projection biases to keep.
 */
function rowParallelBiasParams(arch: MoeArch): number {
  return arch.attention !== 'mla' && arch.attentionBias ? arch.hiddenSize : 0;
}

function transformerLayerParams(arch: MoeArch, layer: number, tp: number, expertShards: number): StageParams {
  const p = layerParams(arch, layer);
  const replicatedAttention = replicatedAttentionParams(arch) + rowParallelBiasParams(arch);
  // Norms and the router gate are replicated over TP (Megatron keeps them whole on every rank).
  const dense =
    (p.attention - replicatedAttention + p.denseFfn + p.sharedExpert) / tp + replicatedAttention + replicatedKvParams(arch, tp) + p.norms + p.router;
  return { dense, expert: p.routedExperts / expertShards, highPrecision: p.norms + p.router };
}

/** What a stage holds, as far as its weights go: its model layers, and the tables and modules beside them. */
export interface StageContents {
  layers: readonly number[];
  embedding: boolean;
  head: boolean;
  /** All arch.mtpDepth MTP modules. */
  mtp: boolean;
}

/**
 * Parameters per device of every stage of a training plan: Megatron-LM's layer slots (layerSlots),
 * the embedding on stage 0, the final norm, the head and the MTP modules on the last stage.
 */
export function stageParams(arch: MoeArch, plan: ParallelPlan): StageParams[] {
  const last = plan.pp - 1;
  const stages = Array.from({ length: plan.pp }, (_, stage): StageContents & { layers: number[] } => ({
    layers: [],
    embedding: stage === 0,
    head: stage === last,
    mtp: stage === last && arch.mtpDepth > 0,
  }));
  for (const slot of layerSlots(arch, plan)) if (slot.layer < arch.numLayers) stages[slot.stage]!.layers.push(slot.layer);
  return stageParamsOf(arch, plan, stages);
}

/**
 * Parameters per device of stages holding `stages` (training's layout, or a serving split from
 * servingStages). A stage with the head but not the embedding also keeps a copy of the embedding
 * when the head is tied to it or MTP needs it (Megatron keeps and all-reduces that copy; vLLM's last
 * rank loads the tied head, and DeepSeek's MTP module its own embedding).
 */
export function stageParamsOf(arch: MoeArch, plan: Pick<ParallelPlan, 'tp' | 'ep' | 'etp'>, stages: readonly StageContents[]): StageParams[] {
  const tp = plan.tp;
  const expertShards = plan.ep * plan.etp;
  const h = arch.hiddenSize;
  const table = (arch.vocabSize * h) / tp;
  const tables = (dense: number): StageParams => ({ dense, expert: 0, highPrecision: dense });
  return stages.map((s) => {
    const sum: StageParams = { dense: 0, expert: 0, highPrecision: 0 };
    const add = (p: StageParams) => {
      sum.dense += p.dense;
      sum.expert += p.expert;
      sum.highPrecision += p.highPrecision;
    };
    // In the order the stages always summed them (layers, embedding, head, copy, MTP): figures unchanged to the bit.
    for (const layer of s.layers) add(transformerLayerParams(arch, layer, tp, expertShards));
    if (s.embedding) add(tables(table));
    if (s.head) add(tables(h + (arch.tiedEmbeddings ? 0 : table)));
    if (s.head && !s.embedding && (arch.tiedEmbeddings || s.mtp)) add(tables(table));
    if (s.mtp) {
      for (let d = 0; d < arch.mtpDepth; d++) {
        const layer = transformerLayerParams(arch, arch.numLayers - 1, tp, expertShards);
        // Two input norms, the 2h → h projection (column-parallel) and the module's final norm: countParameters' MTP layout.
        add({ dense: layer.dense + 3 * h + (2 * h * h) / tp, expert: layer.expert, highPrecision: layer.highPrecision + 3 * h });
      }
    }
    return sum;
  });
}

/** Weights, gradients and optimizer states of one device holding `params`. */
export interface StaticBytes {
  weightsBytes: number;
  gradientsBytes: number;
  optimizerBytes: number;
}

/**
 * Mixed-precision Adam as Megatron-LM runs it: bf16 weights, an fp32 gradient buffer, and per parameter
 * an fp32 master copy plus two fp32 moments (12 bytes). The distributed optimizer shards the 12 bytes
 * (not the weights or gradient buffer) over the data-parallel group — dp × cp for dense parameters and
 * the expert-data-parallel group for experts. Without it that is 18 bytes per parameter; with it
 * 6 + 12/d — the figures of Megatron-LM's theoretical_memory_usage.py.
 */
export function staticBytes(params: StageParams, plan: ParallelPlan, options: TrainingMemoryOptions): StaticBytes {
  const count = params.dense + params.expert;
  const statePerParam =
    (options.masterWeightDType === null ? 0 : dtypeBytes(options.masterWeightDType)) +
    options.optimizerMoments * dtypeBytes(options.optimizerStateDType);
  const denseShards = plan.distributedOptimizer ? plan.dp * plan.cp : 1;
  const expertShards = plan.distributedOptimizer ? planExpertDataParallel(plan) : 1;
  return {
    weightsBytes: count * dtypeBytes(options.paramDType),
    gradientsBytes: count * dtypeBytes(options.gradDType),
    optimizerBytes: statePerParam * (params.dense / denseShards + params.expert / expertShards),
  };
}
