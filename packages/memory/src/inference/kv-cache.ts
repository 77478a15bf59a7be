import { dtypeBytes, type DType, type MoeArch, type ParallelPlan } from '@moge/core';
import { servingStages, type ServingStageOptions } from './serving-stages';

/**
 * KV-cache bytes one layer stores per token for the whole model (no sharding).
 * GQA: K and V for every KV head, 2 · numKvHeads · headDim elements.
 * MLA (DeepSeek-V2 §2.1.2, Table 1): the compressed KV latent and the shared rope key,
 * kvLoraRank + qkRopeHeadDim elements — keys and values are re-expanded from them.
 */
export function kvBytesPerTokenPerLayer(arch: MoeArch, dtype: DType = 'bf16'): number {
  const elements = arch.attention === 'mla' ? arch.mla!.kvLoraRank + arch.mla!.qkRopeHeadDim : 2 * arch.numKvHeads * arch.headDim;
  return elements * dtypeBytes(dtype);
}

/** KV-cache bytes per token of the whole model: every main layer, plus MTP layers when they are used as draft layers. */
export function kvBytesPerToken(arch: MoeArch, dtype: DType = 'bf16', options: { includeMtp?: boolean } = {}): number {
  const layers = arch.numLayers + (options.includeMtp ? arch.mtpDepth : 0);
  return layers * kvBytesPerTokenPerLayer(arch, dtype);
}

export interface KvStageOptions extends ServingStageOptions {
  /** The MTP modules' KV (draft layers), on the last stage. */
  includeMtp?: boolean;
}

/**
 * KV-cache bytes per token on a device of each pipeline stage: the layers servingStages gives that
 * stage (MTP on the last), GQA heads split over TP (a KV head is replicated when tp exceeds their
 * count), the MLA latent replicated on every TP rank (it is shared by all heads, so TP cannot split
 * it — as in vLLM), and the sequence split over CP.
 */
export function kvBytesPerTokenPerStage(arch: MoeArch, plan: ParallelPlan, dtype: DType = 'bf16', options: KvStageOptions = {}): number[] {
  const perLayer =
    arch.attention === 'mla'
      ? kvBytesPerTokenPerLayer(arch, dtype)
      : 2 * Math.ceil(arch.numKvHeads / plan.tp) * arch.headDim * dtypeBytes(dtype);
  const layersPerStage = servingStages(arch, plan, options).map((s) => s.layers.length);
  if (options.includeMtp) layersPerStage[plan.pp - 1]! += arch.mtpDepth;
  return layersPerStage.map((layers) => (layers * perLayer) / plan.cp);
}

/** KV-cache bytes per token on the busiest device of a plan: the stage with the most attention layers. */
export function kvBytesPerTokenPerDevice(arch: MoeArch, plan: ParallelPlan, dtype: DType = 'bf16', options: KvStageOptions = {}): number {
  return Math.max(...kvBytesPerTokenPerStage(arch, plan, dtype, options));
}
