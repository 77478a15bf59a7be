import { dtypeBytes, isMoeLayer, type MoeArch, type ParallelPlan, type RecomputeModule, type SwapModule } from '@moge/core';
import type { TrainingMemoryOptions } from './options';

/** Recompute options finer than a whole layer: each frees a named set of tensors. */
export type FineRecompute = Exclude<RecomputeModule, 'layer'>;

/**
 * One tensor that the forward keeps for the backward, on one device, for one micro-batch.
 * `recompute` names the option that frees it (null: only whole-layer recompute does); `swap` names the
 * swap group that may move it to host memory (null: never swapped).
 */
export interface ActivationTensor {
  name: string;
  bytes: number;
  recompute: FineRecompute | null;
  swap: SwapModule | null;
}

/**
 * Sizes every activation formula needs, derived once from arch, plan and options. Token counts are per
 * device and per micro-batch.
 */
export interface ActivationShape {
  /** Tokens of one micro-batch in the tensor-parallel region: seqLength / cp × microBatchSize. */
  tokens: number;
  /** Tokens in the sequence-parallel region (norms, dropout, residual): `tokens / tp` with SP, else `tokens`. */
  spTokens: number;
  /** Query positions per sequence on this device (seqLength / cp). */
  seqLocal: number;
  /** Key positions every query attends to (the whole sequence; ring attention streams the rest). */
  seqFull: number;
  microBatch: number;
  tp: number;
  /** Query heads on this device. */
  headsLocal: number;
  /** Key/value heads on this device (replicated when tp exceeds the KV-head count, as Megatron does). */
  kvHeadsLocal: number;
  /** Bytes per activation element. */
  bytes: number;
  /**
   * Routed token copies whose expert work lands on this device (busiest device): tokens entering the MoE
   * layer here × topK × etp (expert-TP all-gathers its group's tokens) × loadImbalanceFactor.
   */
  routedCopies: number;
  /** Token copies this device sends out and gets back (tokens × topK, no imbalance: each token sends K). */
  sentCopies: number;
  options: TrainingMemoryOptions;
}

export function activationShape(arch: MoeArch, plan: ParallelPlan, options: TrainingMemoryOptions): ActivationShape {
  const seqLocal = plan.seqLength / plan.cp;
  const tokens = seqLocal * plan.microBatchSize;
  const spTokens = plan.sequenceParallel ? tokens / plan.tp : tokens;
  const sentCopies = spTokens * arch.topK;
  return {
    tokens,
    spTokens,
    seqLocal,
    seqFull: plan.seqLength,
    microBatch: plan.microBatchSize,
    tp: plan.tp,
    headsLocal: arch.numHeads / plan.tp,
    kvHeadsLocal: Math.ceil(arch.numKvHeads / plan.tp),
    bytes: dtypeBytes(options.activationDType),
    routedCopies: sentCopies * plan.etp * options.loadImbalanceFactor,
    sentCopies,
    options,
  };
}

/** Kinds of activation blocks a stage can hold. */
export type BlockKind = 'dense' | 'moe' | 'noop' | 'mtp' | 'embedding' | 'head';

export function layerKind(arch: MoeArch, layer: number): 'dense' | 'moe' | 'noop' {
  if (layer >= arch.numLayers) return 'noop';
  return isMoeLayer(arch, layer) ? 'moe' : 'dense';
}
