import { MoeArchSchema, ParallelPlanSchema, type MoeArch, type MoeArchInput, type ParallelPlan, type ParallelPlanInput } from '@moge/core';

/**
 * Architectures the tests share, written out from the papers (kept here rather than imported from
 * @moge/model, which `memory` may not depend on).
 */
export const PANGU_PRO_MOE: MoeArchInput = {
  name: 'pangu-pro-moe', numLayers: 48, hiddenSize: 5120, numHeads: 40, numKvHeads: 8, headDim: 128, vocabSize: 153376,
  denseFfnSize: 0, numExperts: 64, numExpertGroups: 8, topK: 8, expertFfnSize: 1344, sharedExpertFfnSize: 5376,
  attentionBias: true, ropeTheta: 1.6e7,
};

/** Pangu Ultra MoE (arXiv 2505.04519): 61 layers, 3 dense, MLA, 256 experts top-8, one MTP layer. */
export const PANGU_ULTRA_MOE: MoeArchInput = {
  name: 'pangu-ultra-moe', numLayers: 61, hiddenSize: 7680, numHeads: 128, numKvHeads: 128, headDim: 192, vocabSize: 153600,
  denseFfnSize: 18432, numExperts: 256, numExpertGroups: 8, topK: 8, expertFfnSize: 2048, sharedExpertFfnSize: 2048,
  numDenseLayers: 3, router: 'topk', attention: 'mla',
  mla: { qLoraRank: 1536, kvLoraRank: 512, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 }, mtpDepth: 1,
};

/** A GPT-3-style dense model (MHA, 4h MLP) in the configuration Korthikanti et al.'s formula describes. */
export function gptArch(layers: number, heads: number, headDim: number, vocab = 1024): MoeArch {
  const h = heads * headDim;
  return MoeArchSchema.parse({ numLayers: layers, hiddenSize: h, numHeads: heads, numKvHeads: heads, headDim, vocabSize: vocab, denseFfnSize: 4 * h });
}

export const KORTHIKANTI_OPTIONS = { flashAttention: false, dropout: true, denseMlpActivation: 'gelu', activationDType: 'fp16' } as const;

export function arch(input: MoeArchInput): MoeArch {
  return MoeArchSchema.parse(input);
}

export function plan(input: ParallelPlanInput): ParallelPlan {
  return ParallelPlanSchema.parse(input);
}
