import { countParameters, dtypeBytes, type DType, type MoeArch } from '@moge/core';

/**
 * FLOP accounting per token, in the MFU convention of `shared/reference/targets.md`:
 *
 * - a matmul with P weights costs 2·P FLOP per token forward; backward costs twice the forward
 *   (input grad + weight grad), so training = 3 × forward;
 * - attention scores cost, per layer and token, 2·s·d_qk (Q·Kᵀ) + 2·s·d_v (P·V) forward, where d_qk
 *   and d_v are the summed query and value widths over heads; s is the full sequence length — the
 *   causal mask's full square is counted, as Megatron and the Pangu papers do (a kernel that skips
 *   the masked half does half of this);
 * - `mfu` = 6·N + 3·attention with N = active non-embedding parameters (no input embedding, no
 *   output head: `countParameters().activeNonEmbedding`), the figure MFU divides by.
 * - `total` adds the output head, which dominates a small model with a large vocabulary and is what
 *   a throughput benchmark of such a model actually computes.
 */
export interface FlopsPerToken {
  /** 2·N (forward) or 6·N (training), N = active non-embedding parameters. */
  params: number;
  /** Output head: 2·h·V forward. */
  head: number;
  /** Attention score and value FLOPs at the given sequence length. */
  attention: number;
  /** params + attention: the MFU numerator per token. */
  mfu: number;
  /** params + head + attention: every matmul the model runs. */
  total: number;
}

export interface FlopsOptions {
  /** Sequence length s (training), or the context length a decoded token attends to. */
  seqLen: number;
  /** 'forward' (inference) or 'training' (forward + backward = 3 × forward). */
  pass: 'forward' | 'training';
}

/** Summed query/key width and value width over heads of one attention layer. */
function attentionWidths(arch: MoeArch): { qk: number; v: number } {
  if (arch.attention === 'mla') {
    const m = arch.mla!;
    return { qk: arch.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim), v: arch.numHeads * m.vHeadDim };
  }
  return { qk: arch.numHeads * arch.headDim, v: arch.numHeads * arch.headDim };
}

/** Forward attention-score FLOPs of one token attending to `seqLen` keys, over all layers. */
export function attentionFlopsPerToken(arch: MoeArch, seqLen: number): number {
  const w = attentionWidths(arch);
  return arch.numLayers * 2 * seqLen * (w.qk + w.v);
}

export function flopsPerToken(arch: MoeArch, options: FlopsOptions): FlopsPerToken {
  if (!(options.seqLen >= 0)) throw new RangeError(`seqLen: got ${options.seqLen}, expected a number ≥ 0`);
  const c = countParameters(arch);
  const mult = options.pass === 'training' ? 3 : 1;
  // The router_scale vector and norms are not matmul weights, but they are ≪ 1 % of N; the convention
  // counts every non-embedding parameter.
  const params = 2 * mult * c.activeNonEmbedding;
  const head = 2 * mult * arch.hiddenSize * arch.vocabSize;
  const attention = mult * attentionFlopsPerToken(arch, options.seqLen);
  return { params, head, attention, mfu: params + attention, total: params + head + attention };
}

/** Model FLOP utilisation: achieved model FLOP/s over the peak FLOP/s of all devices. */
export function modelFlopsUtilization(arch: MoeArch, tokensPerS: number, seqLen: number, peakFlops: number): number {
  return (flopsPerToken(arch, { seqLen, pass: 'training' }).mfu * tokensPerS) / peakFlops;
}

/** Bytes of all weights (main model, MTP excluded unless asked) stored in `dtype`. */
export function weightBytes(arch: MoeArch, dtype: DType, options: { includeMtp?: boolean } = {}): number {
  const c = countParameters(arch);
  return (options.includeMtp ? c.totalWithMtp : c.total) * dtypeBytes(dtype);
}

/**
 * KV-cache bytes per token over all layers. GQA stores K and V for every KV head (2·kvHeads·headDim);
 * MLA stores the compressed latent plus the shared rope key (kvLoraRank + qkRopeHeadDim), which is
 * what makes its cache small.
 */
export function kvBytesPerToken(arch: MoeArch, dtype: DType): number {
  const perLayer =
    arch.attention === 'mla' ? arch.mla!.kvLoraRank + arch.mla!.qkRopeHeadDim : 2 * arch.numKvHeads * arch.headDim;
  return arch.numLayers * perLayer * dtypeBytes(dtype);
}
