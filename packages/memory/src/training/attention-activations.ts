import type { MoeArch } from '@moge/core';
import type { ActivationShape, ActivationTensor } from './activation-shape';

/**
 * Tensors the attention block keeps for its backward, one micro-batch on one device.
 *
 * The accounting follows Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
 * Models" (MLSys 2023), §4.1: every matmul keeps its input, softmax keeps its output, dropout keeps a
 * one-byte mask. Tensors in the sequence-parallel region (norm input/output, dropout masks) are split over
 * TP only with sequence parallelism; tensors between the column- and row-parallel linears are split over
 * TP always. GQA shrinks K and V to the KV heads; MLA (DeepSeek-V2 §2.1, Pangu Ultra MoE) keeps its two
 * low-rank latents, which every TP rank computes in full (the down-projections are not TP-split in
 * Megatron-LM's MLA), plus the per-head Q/K/V its up-projections produce.
 */
export function attentionActivations(arch: MoeArch, s: ActivationShape): ActivationTensor[] {
  const { bytes: B, tokens: T, spTokens: S } = s;
  const h = arch.hiddenSize;
  const out: ActivationTensor[] = [
    // The layer input: the residual stream the input norm reads. Whole-layer recompute keeps only this.
    { name: 'attn.norm-input', bytes: B * h * S, recompute: null, swap: 'layer-input' },
    // Norm output = input of the QKV (or MLA down) projections; recompute-norm regenerates it.
    { name: 'attn.norm-output', bytes: B * h * S, recompute: 'norm', swap: 'attention' },
  ];
  let valueDim: number;
  if (arch.attention === 'mla') {
    const m = arch.mla!;
    const qkDim = m.qkNopeHeadDim + m.qkRopeHeadDim;
    if (m.qLoraRank > 0) {
      out.push(
        { name: 'attn.q-latent', bytes: B * m.qLoraRank * T, recompute: null, swap: 'attention' },
        { name: 'attn.q-latent-norm-output', bytes: B * m.qLoraRank * T, recompute: 'norm', swap: 'attention' },
      );
    }
    out.push(
      { name: 'attn.kv-latent', bytes: B * m.kvLoraRank * T, recompute: null, swap: 'attention' },
      { name: 'attn.kv-latent-norm-output', bytes: B * m.kvLoraRank * T, recompute: 'norm', swap: 'attention' },
      // Per-head tensors the up-projections make (and attention keeps): Pangu Ultra recomputes these.
      { name: 'attn.q', bytes: B * s.headsLocal * qkDim * T, recompute: 'mla-up-proj', swap: 'attention' },
      { name: 'attn.k', bytes: B * s.headsLocal * qkDim * T, recompute: 'mla-up-proj', swap: 'attention' },
      { name: 'attn.v', bytes: B * s.headsLocal * m.vHeadDim * T, recompute: 'mla-up-proj', swap: 'attention' },
    );
    valueDim = m.vHeadDim;
  } else {
    const d = arch.headDim;
    out.push(
      { name: 'attn.q', bytes: B * s.headsLocal * d * T, recompute: null, swap: 'attention' },
      { name: 'attn.k', bytes: B * s.kvHeadsLocal * d * T, recompute: null, swap: 'attention' },
      { name: 'attn.v', bytes: B * s.kvHeadsLocal * d * T, recompute: null, swap: 'attention' },
    );
    valueDim = d;
  }
  out.push(...attentionCoreActivations(s));
  out.push({ name: 'attn.out-proj-input', bytes: B * s.headsLocal * valueDim * T, recompute: null, swap: 'attention' });
  if (s.options.dropout) out.push({ name: 'attn.dropout-mask', bytes: h * S, recompute: null, swap: 'attention' });
  return out;
}

/**
 * softmax(QKᵀ)V. Unfused (Korthikanti et al.): softmax output 2·a·s²·b, and with dropout its one-byte mask
 * a·s²·b and the dropped-out probabilities 2·a·s²·b — the 5·a·s²·b term. Fused flash attention keeps only
 * the fp32 log-sum-exp per head and query (Dao et al., FlashAttention §3.1).
 */
function attentionCoreActivations(s: ActivationShape): ActivationTensor[] {
  const scores = s.headsLocal * s.seqLocal * s.seqFull * s.microBatch;
  if (s.options.flashAttention) {
    return [{ name: 'attn.softmax-lse', bytes: 4 * s.headsLocal * s.tokens, recompute: 'attention-core', swap: 'attention' }];
  }
  const out: ActivationTensor[] = [{ name: 'attn.softmax-output', bytes: s.bytes * scores, recompute: 'attention-core', swap: 'attention' }];
  if (s.options.dropout) {
    out.push(
      { name: 'attn.softmax-dropout-mask', bytes: scores, recompute: 'attention-core', swap: 'attention' },
      { name: 'attn.softmax-dropout-output', bytes: s.bytes * scores, recompute: 'attention-core', swap: 'attention' },
    );
  }
  return out;
}
