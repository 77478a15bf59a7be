import { dtypeBytes, parseWith, quantizationWeightDType, type MoeArch, type ParallelPlan } from '@moge/core';
import { checkPlanFitsArch } from '../training/stage-layout';
import { stageParamsOf } from '../training/static-memory';
import { InferenceMemoryOptionsSchema, type InferenceMemoryOptions, type InferenceMemoryOptionsInput } from './inference-options';
import { kvBytesPerToken, kvBytesPerTokenPerStage } from './kv-cache';
import { samplerLogitsBytes } from './sampler-logits';
import { servingStages } from './serving-stages';

/**
 * Serving memory of the busiest device of a plan. With pp > 1 the stages hold different weights (the
 * embedding on the first, the head and MTP on the last) and different KV (their layers), so every
 * stage is costed on its own: the per-device fields are those of `busiestStage`, the stage needing the
 * most bytes at `batch`; `maxBatch` and `numBlocks` are the least over the stages, since every stage
 * keeps each sequence's KV for its own layers (vLLM likewise takes the smallest block count of its
 * workers).
 */
export interface InferenceMemoryEstimate {
  /** The pipeline stage whose device the per-device fields describe (0 when pp = 1). */
  busiestStage: number;
  /** Weights on the device: quantised linears plus 16-bit embeddings, head, norms and router gates. */
  weightsBytes: number;
  /** KV bytes per token for the whole model (unsharded). */
  kvBytesPerToken: number;
  kvBytesPerTokenPerDevice: number;
  /** One sequence at `contextLength` on this device (its ⌈contextLength / cp⌉ tokens), rounded up to whole blocks. */
  kvBytesPerSequence: number;
  /** KV cache for `batch` sequences. */
  kvBytes: number;
  /**
   * Transient bytes of busiestStage: the activations of the largest forward (`maxBatchedTokens`
   * tokens), plus on the last stage the sampler's fp32 logits of `maxNumSeqs` sequences over the whole
   * vocabulary (samplerLogitsBytes), as vLLM's profiling run reserves them.
   */
  workspaceBytes: number;
  overheadBytes: number;
  totalBytes: number;
  /** hbmBytes × memoryUtilization: what the engine may use. */
  usableBytes: number;
  /** Usable bytes left for the KV cache once weights, workspace and overhead are placed (may be negative); of busiestStage. */
  kvBudgetBytes: number;
  /** Sequences at `contextLength` that fit per attention data-parallel rank on every stage (0 when even one does not). */
  maxBatch: number;
  /** maxBatch × dp: sequences over the whole plan. */
  maxBatchTotal: number;
  /** KV blocks of `blockSize` tokens the budget holds on every stage (what a BlockManager would be given). */
  numBlocks: number;
  fits: boolean;
  /** Every pipeline stage's device (one entry when pp = 1). */
  stages: StageServingMemory[];
}

/** Serving memory of a device of one pipeline stage, at `batch` sequences. */
export interface StageServingMemory {
  stage: number;
  /** Model layers (dense and MoE) the stage runs: vLLM's split, or the plan's. */
  layers: number;
  weightsBytes: number;
  kvBytesPerTokenPerDevice: number;
  kvBytesPerSequence: number;
  kvBytes: number;
  /** The forward's activations, plus the sampler's logits on the last stage (the one holding the head). */
  workspaceBytes: number;
  kvBudgetBytes: number;
  totalBytes: number;
}

/**
 * Transient bytes per token of one forward: the residual stream and a norm output, plus the widest
 * intermediate of attention (local q, k, v) or the FFN (fc1 output and activation; for MoE the routed
 * copies landing here, each with its hidden vector and expert intermediates, plus the shared expert).
 * Fused paged attention keeps no score matrix.
 */
function workspaceBytesPerToken(arch: MoeArch, plan: ParallelPlan, bytes: number): number {
  const h = arch.hiddenSize;
  const heads = arch.numHeads / plan.tp;
  const attention =
    arch.attention === 'mla'
      ? heads * (2 * (arch.mla!.qkNopeHeadDim + arch.mla!.qkRopeHeadDim) + arch.mla!.vHeadDim)
      : (heads + 2 * Math.ceil(arch.numKvHeads / plan.tp)) * arch.headDim;
  const dense = arch.numDenseLayers > 0 || arch.numExperts === 0 ? (3 * arch.denseFfnSize) / plan.tp : 0;
  const copies = (arch.topK * plan.etp) / plan.tp;
  const moe = arch.numExperts > 0 ? copies * (h + (3 * arch.expertFfnSize) / plan.etp) + (3 * arch.sharedExpertFfnSize) / plan.tp : 0;
  return bytes * (2 * h + Math.max(attention, dense, moe));
}

export function estimateInferenceMemoryParsed(arch: MoeArch, plan: ParallelPlan, o: InferenceMemoryOptions): InferenceMemoryEstimate {
  checkPlanFitsArch(arch, plan, 'inference');
  const served = o.includeMtp ? arch : { ...arch, mtpDepth: 0 };
  const weightBytes = dtypeBytes(quantizationWeightDType(o.quantization));
  const tableBytes = o.quantization === 'fp16' ? 2 : dtypeBytes('bf16');
  // One split for weights and KV (servingStages: vLLM's, an explicit ppLayerPartition, or a Megatron layout).
  const split = { ppLayerPartition: o.ppLayerPartition };
  const contents = servingStages(served, plan, split);
  const stageWeights = stageParamsOf(served, plan, contents).map((p) => (p.dense - p.highPrecision + p.expert) * weightBytes + p.highPrecision * tableBytes);
  const stageKvPerToken = kvBytesPerTokenPerStage(arch, plan, o.kvDType, { ...split, includeMtp: o.includeMtp });
  // Blocks hold whole tokens: with CP a device keeps every layer's KV of the tokens it owns (a
  // ⌈context / cp⌉ share of each sequence), so a block costs blockSize tokens at the un-split rate,
  // not at the cp-averaged per-token figure.
  const stageKvHeld = kvBytesPerTokenPerStage(arch, { ...plan, cp: 1 }, o.kvDType, { ...split, includeMtp: o.includeMtp });
  const tokens = o.maxBatchedTokens ?? o.contextLength;
  // The residual stream stays bf16 under W8A8/W4A8 too (int8 only inside the quantised matmuls).
  const activationBytes = (tokens / plan.cp) * workspaceBytesPerToken(arch, plan, dtypeBytes('bf16'));
  const logitsBytes = samplerLogitsBytes(arch, o.maxNumSeqs, tokens);
  const usableBytes = o.hbmBytes * o.memoryUtilization;
  const stages = stageWeights.map((weightsBytes, stage) => {
    // Only the stage holding the head samples (vLLM runs the dummy sampler on the last PP rank alone).
    const workspaceBytes = contents[stage]!.head ? activationBytes + logitsBytes : activationBytes;
    const blockBytes = o.blockSize * stageKvHeld[stage]!;
    const kvBytesPerSequence = Math.ceil(Math.ceil(o.contextLength / plan.cp) / o.blockSize) * blockBytes;
    const kvBudgetBytes = usableBytes - weightsBytes - workspaceBytes - o.frameworkOverheadBytes;
    const kvBytes = o.batch * kvBytesPerSequence;
    return {
      stage,
      layers: contents[stage]!.denseLayers + contents[stage]!.moeLayers,
      weightsBytes,
      kvBytesPerTokenPerDevice: stageKvPerToken[stage]!,
      kvBytesPerSequence,
      kvBytes,
      workspaceBytes,
      kvBudgetBytes,
      totalBytes: weightsBytes + workspaceBytes + o.frameworkOverheadBytes + kvBytes,
      blockBytes,
    };
  });
  // What each stage's budget holds; a stage without attention layers (possible only with Megatron's
  // no-op slots) keeps no KV and limits nothing, unless its weights and workspace alone do not fit (a
  // budget of exactly 0 still fits, as `fits` says).
  const limit = (st: (typeof stages)[number], bytesPerItem: number) =>
    st.kvBudgetBytes < 0 ? 0 : bytesPerItem === 0 ? undefined : Math.floor(st.kvBudgetBytes / bytesPerItem);
  const least = (values: (number | undefined)[]) => Math.min(...values.filter((v): v is number => v !== undefined));
  // The busiest device: most bytes at `batch`; on a tie, the one with the least KV budget.
  const busiest = stages.reduce((a, b) => (b.totalBytes > a.totalBytes || (b.totalBytes === a.totalBytes && b.kvBudgetBytes < a.kvBudgetBytes) ? b : a));
  const maxBatch = least(stages.map((st) => limit(st, st.kvBytesPerSequence)));
  return {
    busiestStage: busiest.stage,
    weightsBytes: busiest.weightsBytes,
    kvBytesPerToken: kvBytesPerToken(arch, o.kvDType, { includeMtp: o.includeMtp }),
    kvBytesPerTokenPerDevice: busiest.kvBytesPerTokenPerDevice,
    kvBytesPerSequence: busiest.kvBytesPerSequence,
    kvBytes: busiest.kvBytes,
    workspaceBytes: busiest.workspaceBytes,
    overheadBytes: o.frameworkOverheadBytes,
    totalBytes: busiest.totalBytes,
    usableBytes,
    kvBudgetBytes: busiest.kvBudgetBytes,
    maxBatch,
    maxBatchTotal: maxBatch * plan.dp,
    numBlocks: least(stages.map((st) => limit(st, st.blockBytes))),
    fits: busiest.totalBytes <= usableBytes,
    stages: stages.map(({ blockBytes: _, ...st }) => st),
  };
}

/**
 * Serving memory per device: weights by quantisation, KV cache per token (GQA or MLA), workspace,
 * and the largest batch that fits at `contextLength`. Plan fields used: tp, ep, etp, pp, cp, dp (and
 * noopLayers, vpp: a Megatron layout's split). The layers are split over pp as servingStages says.
 */
export function estimateInferenceMemory(arch: MoeArch, plan: ParallelPlan, options: InferenceMemoryOptionsInput): InferenceMemoryEstimate {
  return estimateInferenceMemoryParsed(arch, plan, parseWith(InferenceMemoryOptionsSchema, options, 'inference memory options'));
}

/** The largest number of sequences of `contextLength` tokens one attention data-parallel rank can hold. */
export function maxBatchForContext(arch: MoeArch, plan: ParallelPlan, options: InferenceMemoryOptionsInput): number {
  return estimateInferenceMemory(arch, plan, options).maxBatch;
}
