import type { MoeArch } from '@moge/core';
import type { ActivationShape, ActivationTensor, FineRecompute } from './activation-shape';

/**
 * What re-running part of the forward in backward costs, per block and micro-batch on one device. The
 * memory package only counts; the simulator turns these into seconds with its operator cost models.
 */
export interface RecomputeCost {
  /** Matmul FLOPs (2 per multiply-add). */
  flops: number;
  /** HBM traffic of memory-bound kernels (norms, activation functions, permutes): bytes read + written. */
  memoryBytes: number;
  /** Bytes this device receives over collectives that must run again (TP all-gather/reduce-scatter, EP all-to-all). */
  commBytes: number;
}

export const ZERO_COST: RecomputeCost = Object.freeze({ flops: 0, memoryBytes: 0, commBytes: 0 });

export function addCost(a: RecomputeCost, b: RecomputeCost, scale = 1): RecomputeCost {
  return { flops: a.flops + scale * b.flops, memoryBytes: a.memoryBytes + scale * b.memoryBytes, commBytes: a.commBytes + scale * b.commBytes };
}

/** softmax(QKᵀ)V FLOPs; flash kernels skip the masked half of a causal score matrix, unfused ones do not. */
function attentionCoreFlops(arch: MoeArch, s: ActivationShape): number {
  const qkDim = arch.attention === 'mla' ? arch.mla!.qkNopeHeadDim + arch.mla!.qkRopeHeadDim : arch.headDim;
  const vDim = arch.attention === 'mla' ? arch.mla!.vHeadDim : arch.headDim;
  const pairs = s.microBatch * s.seqLocal * s.seqFull * s.headsLocal;
  return 2 * pairs * (qkDim + vDim) * (s.options.flashAttention ? 0.5 : 1);
}

function mlaUpProjFlops(arch: MoeArch, s: ActivationShape): number {
  const m = arch.mla!;
  const qIn = m.qLoraRank > 0 ? m.qLoraRank : arch.hiddenSize;
  return 2 * s.tokens * s.headsLocal * (qIn * (m.qkNopeHeadDim + m.qkRopeHeadDim) + m.kvLoraRank * (m.qkNopeHeadDim + m.vHeadDim));
}

function attentionForwardFlops(arch: MoeArch, s: ActivationShape): number {
  const h = arch.hiddenSize;
  const T = s.tokens;
  if (arch.attention === 'mla') {
    const m = arch.mla!;
    const down = 2 * T * h * (m.qLoraRank + m.kvLoraRank + m.qkRopeHeadDim);
    return down + mlaUpProjFlops(arch, s) + 2 * T * s.headsLocal * m.vHeadDim * h + attentionCoreFlops(arch, s);
  }
  const d = arch.headDim;
  const qkv = 2 * T * h * (s.headsLocal + 2 * s.kvHeadsLocal) * d;
  return qkv + 2 * T * s.headsLocal * d * h + attentionCoreFlops(arch, s);
}

/** Forward FLOPs of one transformer layer on this device for one micro-batch. */
export function layerForwardFlops(arch: MoeArch, kind: 'dense' | 'moe', s: ActivationShape, etp: number): number {
  const h = arch.hiddenSize;
  let ffn: number;
  if (kind === 'dense') {
    const matrices = s.options.denseMlpActivation === 'swiglu' ? 3 : 2;
    ffn = 2 * s.tokens * matrices * h * (arch.denseFfnSize / s.tp);
  } else {
    const router = 2 * s.spTokens * h * arch.numExperts;
    const experts = 2 * s.routedCopies * 3 * h * (arch.expertFfnSize / etp);
    const shared = 2 * s.tokens * 3 * h * (arch.sharedExpertFfnSize / s.tp);
    ffn = router + experts + shared;
  }
  return attentionForwardFlops(arch, s) + ffn;
}

/** Collective bytes one forward of a layer receives: two TP exchanges per sublayer, plus MoE dispatch and combine. */
export function layerForwardCommBytes(arch: MoeArch, kind: 'dense' | 'moe', s: ActivationShape): number {
  const h = arch.hiddenSize;
  const tpShare = s.tp > 1 ? (s.tp - 1) / s.tp : 0;
  const tp = 2 * 2 * s.bytes * h * s.tokens * tpShare;
  const ep = kind === 'moe' ? s.bytes * h * (s.routedCopies + s.sentCopies) : 0;
  return tp + ep;
}

function bytesOf(tensors: readonly ActivationTensor[], group: FineRecompute): number {
  return tensors.reduce((sum, t) => (t.recompute === group ? sum + t.bytes : sum), 0);
}

/**
 * Cost of each fine-grained option for one block, from the tensors it frees:
 * - norm: re-run RMSNorm — read the input, write the output (memory-bound);
 * - activation: SwiGLU reads gate and up and writes the product (3× the freed bytes), GeLU 2×;
 * - attention-core: the score and value matmuls again;
 * - mla-up-proj: the q and kv up-projections again;
 * - permute: permute + dispatch all-to-all (and the expert-TP all-gather) again.
 */
export function fineRecomputeCosts(
  arch: MoeArch,
  tensors: readonly ActivationTensor[],
  s: ActivationShape,
): Record<FineRecompute, RecomputeCost> {
  const swiglu = 3;
  const hasAttention = tensors.some((t) => t.recompute === 'attention-core');
  const activationBytes = tensors
    .filter((t) => t.recompute === 'activation')
    .reduce((sum, t) => sum + t.bytes * (t.name.startsWith('mlp.') && s.options.denseMlpActivation === 'gelu' ? 2 : swiglu), 0);
  const permuteBytes = bytesOf(tensors, 'permute');
  return {
    norm: { flops: 0, memoryBytes: 2 * bytesOf(tensors, 'norm'), commBytes: 0 },
    activation: { flops: 0, memoryBytes: activationBytes, commBytes: 0 },
    'attention-core': {
      flops: hasAttention ? attentionCoreFlops(arch, s) : 0,
      memoryBytes: s.options.flashAttention ? 0 : 2 * bytesOf(tensors, 'attention-core'),
      commBytes: 0,
    },
    'mla-up-proj': { flops: bytesOf(tensors, 'mla-up-proj') > 0 ? mlaUpProjFlops(arch, s) : 0, memoryBytes: 0, commBytes: 0 },
    permute: { flops: 0, memoryBytes: permuteBytes > 0 ? 2 * s.bytes * arch.hiddenSize * s.sentCopies : 0, commBytes: permuteBytes },
  };
}
