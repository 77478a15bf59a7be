import { isMoeLayer, type MoeArch } from '../schemas/moe-arch';

/**
 * Parameter counts derived from a MoeArch. This lives in core (not in @moge/model) because the
 * memory planner, the simulators and the model all need the same numbers and `memory` may not
 * depend on `model`; @moge/model re-exports it and adds FLOP accounting on top.
 */

/** Parameters of one attention block (projections, biases, MLA norms). */
export function attentionParams(arch: MoeArch): number {
  const h = arch.hiddenSize;
  if (arch.attention === 'mla') {
    const m = arch.mla!;
    const qHead = m.qkNopeHeadDim + m.qkRopeHeadDim;
    const q =
      m.qLoraRank > 0
        ? h * m.qLoraRank + m.qLoraRank /* q_a_layernorm */ + m.qLoraRank * arch.numHeads * qHead
        : h * arch.numHeads * qHead;
    const kvDown = h * (m.kvLoraRank + m.qkRopeHeadDim) + m.kvLoraRank; /* kv_a_layernorm */
    const kvUp = m.kvLoraRank * arch.numHeads * (m.qkNopeHeadDim + m.vHeadDim);
    const o = arch.numHeads * m.vHeadDim * h;
    return q + kvDown + kvUp + o;
  }
  const qDim = arch.numHeads * arch.headDim;
  const kvDim = arch.numKvHeads * arch.headDim;
  const weights = h * qDim + 2 * h * kvDim + qDim * h;
  const biases = arch.attentionBias ? qDim + 2 * kvDim + h : 0;
  return weights + biases;
}

/** Parameters of a SwiGLU FFN of width `ffn` (gate, up, down). */
export function swigluParams(hidden: number, ffn: number): number {
  return 3 * hidden * ffn;
}

/** Parameters of one routed expert. */
export function expertParams(arch: MoeArch): number {
  return swigluParams(arch.hiddenSize, arch.expertFfnSize);
}

export interface LayerParams {
  layer: number;
  kind: 'dense' | 'moe';
  attention: number;
  /** input and post-attention RMSNorm weights */
  norms: number;
  denseFfn: number;
  routedExperts: number;
  /** Routed-expert parameters a single token uses (topK experts). */
  routedExpertsActive: number;
  sharedExpert: number;
  /** Router gate (E × hidden) plus, when `routerExpertVector`, its per-expert vector (E: router_scale, e_score_correction_bias). */
  router: number;
  total: number;
  active: number;
}

export function layerParams(arch: MoeArch, layer: number): LayerParams {
  const h = arch.hiddenSize;
  const attention = attentionParams(arch);
  const norms = 2 * h;
  const moe = isMoeLayer(arch, layer);
  const denseFfn = moe ? 0 : swigluParams(h, arch.denseFfnSize);
  const routedExperts = moe ? arch.numExperts * expertParams(arch) : 0;
  const routedExpertsActive = moe ? arch.topK * expertParams(arch) : 0;
  const sharedExpert = moe ? swigluParams(h, arch.sharedExpertFfnSize) : 0;
  const router = moe ? arch.numExperts * h + (arch.routerExpertVector ? arch.numExperts : 0) : 0;
  const common = attention + norms + denseFfn + sharedExpert + router;
  return {
    layer,
    kind: moe ? 'moe' : 'dense',
    attention,
    norms,
    denseFfn,
    routedExperts,
    routedExpertsActive,
    sharedExpert,
    router,
    total: common + routedExperts,
    active: common + routedExpertsActive,
  };
}

export interface ParameterCount {
  /** Input embedding table. */
  embedding: number;
  /** Output head (0 when tied to the embedding). */
  head: number;
  finalNorm: number;
  perLayer: LayerParams[];
  /** Multi-token-prediction modules (counted apart, as DeepSeek-V3 and Pangu Ultra report totals without them). */
  mtp: { total: number; active: number };
  /** All parameters of the main model (embedding and head included, MTP excluded). */
  total: number;
  /** Parameters one token touches: embedding, head, attention, dense/shared FFN, router, top-K experts. */
  active: number;
  /** `active` without the input embedding (a lookup, not a matmul): the convention of the Pangu Ultra/DeepSeek-V3 figures. */
  activeExcludingEmbedding: number;
  /** Non-embedding active parameters (no embedding, no head): the "N" of the 6N FLOP rule. */
  activeNonEmbedding: number;
  totalWithMtp: number;
}

export function countParameters(arch: MoeArch): ParameterCount {
  const h = arch.hiddenSize;
  const embedding = arch.vocabSize * h;
  const head = arch.tiedEmbeddings ? 0 : arch.vocabSize * h;
  const finalNorm = h;
  const perLayer = Array.from({ length: arch.numLayers }, (_, i) => layerParams(arch, i));
  const layersTotal = perLayer.reduce((s, l) => s + l.total, 0);
  const layersActive = perLayer.reduce((s, l) => s + l.active, 0);
  // An MTP module (DeepSeek-V3 layout): two RMSNorms, a 2h→h projection, one transformer layer of the
  // last layer's kind, sharing the embedding and head with the main model.
  const mtpLayer = layerParams(arch, arch.numLayers - 1);
  const mtpOne = { total: 2 * h + 2 * h * h + mtpLayer.total + h, active: 2 * h + 2 * h * h + mtpLayer.active + h };
  const mtp = { total: arch.mtpDepth * mtpOne.total, active: arch.mtpDepth * mtpOne.active };
  const total = embedding + head + finalNorm + layersTotal;
  const active = embedding + head + finalNorm + layersActive;
  return {
    embedding,
    head,
    finalNorm,
    perLayer,
    mtp,
    total,
    active,
    activeExcludingEmbedding: active - embedding,
    activeNonEmbedding: finalNorm + layersActive,
    totalWithMtp: total + mtp.total,
  };
}
