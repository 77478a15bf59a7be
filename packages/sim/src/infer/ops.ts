import type { ComputeOp, LayerOp, OpModule } from '../common/ops';

/**
 * Inference adds two operators to the shared vocabulary, both costed by the same @moge/ascend-hal
 * operator model (as its `custom` op: FLOPs and bytes at the matmul efficiency of that much work).
 */

/**
 * Routed-expert matmuls of one step: `tokens` rows spread over the experts, of which only
 * `activeExperts` (an expectation, so fractional) are touched and read their weights. A grouped
 * matmul with integer token counts cannot express "1.6 experts on average", hence its own op.
 */
export interface ExpertMatmulOp {
  kind: 'expert-matmul';
  name: string;
  module: OpModule;
  activeExperts: number;
  tokens: number;
  k: number;
  n: number;
}

/**
 * MLA decode attention with absorbed up-projections (DeepSeek-V2 §2.1 / FlashMLA): every head reads
 * the shared compressed latent (kvLoraRank + rope dims per token) once, not per-head keys and values.
 */
export interface LatentAttentionOp {
  kind: 'latent-attention';
  name: string;
  module: OpModule;
  batch: number;
  heads: number;
  seqQ: number;
  seqKv: number;
  /** kvLoraRank + qkRopeHeadDim: what one cached token holds. */
  latentDim: number;
  /** kvLoraRank: the value side of the absorbed product. */
  valueDim: number;
}

export type InferComputeOp = ComputeOp | ExpertMatmulOp | LatentAttentionOp;
export type InferOp = LayerOp | ExpertMatmulOp | LatentAttentionOp;

export function isInferCommOp(op: InferOp): op is Extract<LayerOp, { kind: 'collective' | 'expert-exchange' }> {
  return op.kind === 'collective' || op.kind === 'expert-exchange';
}
