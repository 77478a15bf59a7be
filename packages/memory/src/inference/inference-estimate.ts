import { dtypeBytes, parseWith, quantizationWeightDType, type MoeArch, type ParallelPlan } from '@moge/core';
import { checkPlanFitsArch } from '../training/stage-layout';
import { stageParams } from '../training/static-memory';
import { InferenceMemoryOptionsSchema, type InferenceMemoryOptions, type InferenceMemoryOptionsInput } from './inference-options';
import { kvBytesPerToken, kvBytesPerTokenPerDevice } from './kv-cache';

/** Serving memory of the busiest device of a plan. */
export interface InferenceMemoryEstimate {
  /** Weights on the device: quantised linears plus 16-bit embeddings, head, norms and router gates. */
  weightsBytes: number;
  /** KV bytes per token for the whole model (unsharded). */
  kvBytesPerToken: number;
  kvBytesPerTokenPerDevice: number;
  /** One sequence at `contextLength` on this device (its ⌈contextLength / cp⌉ tokens), rounded up to whole blocks. */
  kvBytesPerSequence: number;
  /** KV cache for `batch` sequences. */
  kvBytes: number;
  /** Transient activations of the largest forward (`maxBatchedTokens` tokens). */
  workspaceBytes: number;
  overheadBytes: number;
  totalBytes: number;
  /** hbmBytes × memoryUtilization: what the engine may use. */
  usableBytes: number;
  /** Usable bytes left for the KV cache once weights, workspace and overhead are placed (may be negative). */
  kvBudgetBytes: number;
  /** Sequences at `contextLength` that fit per attention data-parallel rank (0 when even one does not). */
  maxBatch: number;
  /** maxBatch × dp: sequences over the whole plan. */
  maxBatchTotal: number;
  /** KV blocks of `blockSize` tokens the budget holds (what a BlockManager would be given). */
  numBlocks: number;
  fits: boolean;
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
  const weightsBytes = Math.max(
    ...stageParams(served, plan).map((p) => (p.dense - p.highPrecision + p.expert) * weightBytes + p.highPrecision * tableBytes),
  );
  const perTokenDevice = kvBytesPerTokenPerDevice(arch, plan, o.kvDType, { includeMtp: o.includeMtp });
  // Blocks hold whole tokens: with CP a device keeps every layer's KV of the tokens it owns (a
  // ⌈context / cp⌉ share of each sequence), so a block costs blockSize tokens at the un-split rate,
  // not at the cp-averaged per-token figure above.
  const perTokenHeld = kvBytesPerTokenPerDevice(arch, { ...plan, cp: 1 }, o.kvDType, { includeMtp: o.includeMtp });
  const blockBytes = o.blockSize * perTokenHeld;
  const kvBytesPerSequence = Math.ceil(Math.ceil(o.contextLength / plan.cp) / o.blockSize) * blockBytes;
  const tokens = o.maxBatchedTokens ?? o.contextLength;
  // The residual stream stays bf16 under W8A8/W4A8 too (int8 only inside the quantised matmuls).
  const workspaceBytes = (tokens / plan.cp) * workspaceBytesPerToken(arch, plan, dtypeBytes('bf16'));
  const usableBytes = o.hbmBytes * o.memoryUtilization;
  const kvBudgetBytes = usableBytes - weightsBytes - workspaceBytes - o.frameworkOverheadBytes;
  const maxBatch = kvBudgetBytes > 0 ? Math.floor(kvBudgetBytes / kvBytesPerSequence) : 0;
  const kvBytes = o.batch * kvBytesPerSequence;
  const totalBytes = weightsBytes + workspaceBytes + o.frameworkOverheadBytes + kvBytes;
  return {
    weightsBytes,
    kvBytesPerToken: kvBytesPerToken(arch, o.kvDType, { includeMtp: o.includeMtp }),
    kvBytesPerTokenPerDevice: perTokenDevice,
    kvBytesPerSequence,
    kvBytes,
    workspaceBytes,
    overheadBytes: o.frameworkOverheadBytes,
    totalBytes,
    usableBytes,
    kvBudgetBytes,
    maxBatch,
    maxBatchTotal: maxBatch * plan.dp,
    numBlocks: kvBudgetBytes > 0 ? Math.floor(kvBudgetBytes / blockBytes) : 0,
    fits: totalBytes <= usableBytes,
  };
}

/**
 * Serving memory per device: weights by quantisation, KV cache per token (GQA or MLA), workspace,
 * and the largest batch that fits at `contextLength`. Plan fields used: tp, ep, etp, pp, cp, dp.
 */
export function estimateInferenceMemory(arch: MoeArch, plan: ParallelPlan, options: InferenceMemoryOptionsInput): InferenceMemoryEstimate {
  return estimateInferenceMemoryParsed(arch, plan, parseWith(InferenceMemoryOptionsSchema, options, 'inference memory options'));
}

/** The largest number of sequences of `contextLength` tokens one attention data-parallel rank can hold. */
export function maxBatchForContext(arch: MoeArch, plan: ParallelPlan, options: InferenceMemoryOptionsInput): number {
  return estimateInferenceMemory(arch, plan, options).maxBatch;
}
