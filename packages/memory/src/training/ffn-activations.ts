import type { MoeArch } from '@moge/core';
import type { ActivationShape, ActivationTensor } from './activation-shape';

/**
 * Dense MLP of width `ffn`, column- then row-parallel over TP (Korthikanti et al. §4.1): fc1 keeps its
 * input (the norm output), the activation function keeps its input (fc1's output: gate and up for
 * SwiGLU, one tensor for GeLU), fc2 keeps its input (the activation's output), dropout a one-byte mask.
 * `recompute-activation` (MindSpeed `--recompute-activation-function`) frees the activation's output.
 */
export function denseMlpActivations(arch: MoeArch, s: ActivationShape, prefix = 'mlp'): ActivationTensor[] {
  const h = arch.hiddenSize;
  const f = arch.denseFfnSize / s.tp;
  const fc1Width = s.options.denseMlpActivation === 'swiglu' ? 2 * f : f;
  const out: ActivationTensor[] = [
    { name: `${prefix}.norm-input`, bytes: s.bytes * h * s.spTokens, recompute: null, swap: 'mlp' },
    { name: `${prefix}.norm-output`, bytes: s.bytes * h * s.spTokens, recompute: 'norm', swap: 'mlp' },
    { name: `${prefix}.fc1-output`, bytes: s.bytes * fc1Width * s.tokens, recompute: null, swap: 'mlp' },
    { name: `${prefix}.act-output`, bytes: s.bytes * f * s.tokens, recompute: 'activation', swap: 'mlp' },
  ];
  if (s.options.dropout) out.push({ name: `${prefix}.dropout-mask`, bytes: h * s.spTokens, recompute: null, swap: 'mlp' });
  return out;
}

/**
 * A MoE layer's FFN half on one device (Megatron-LM MoE with the all-to-all token dispatcher; the same
 * structure MindSpeed and the Pangu Ultra MoE report describe):
 * - router: fp32 probabilities over all E experts (softmax backward keeps its output) and the routing map
 *   (Megatron's boolean tokens × experts `routing_map`), on the sequence-parallel tokens;
 * - dispatch: the permuted, all-to-all'd tokens are the grouped-GEMM input — tokens × topK copies of
 *   width h, times etp (expert-TP all-gathers them) and the load-imbalance factor on the busiest device.
 *   Permute recompute (Pangu Ultra MoE §memory; MindSpeed moe-zero-memory) re-runs permute + all-to-all
 *   in backward instead of keeping them;
 * - experts: SwiGLU fc1 output (gate, up) and activation output per copy, width expertFfnSize / etp;
 * - combine: the un-permute weighting keeps the returned expert outputs (tokens × topK × h, on the
 *   sending side, so no imbalance) and their fp32 probabilities;
 * - shared expert: a TP-split SwiGLU MLP over all tokens.
 */
export function moeActivations(arch: MoeArch, s: ActivationShape, etp: number): ActivationTensor[] {
  const h = arch.hiddenSize;
  const B = s.bytes;
  const fe = arch.expertFfnSize / etp;
  const out: ActivationTensor[] = [
    { name: 'moe.norm-input', bytes: B * h * s.spTokens, recompute: null, swap: 'moe' },
    { name: 'moe.norm-output', bytes: B * h * s.spTokens, recompute: 'norm', swap: 'moe' },
    { name: 'moe.router-probs', bytes: 4 * arch.numExperts * s.spTokens, recompute: null, swap: 'moe' },
    { name: 'moe.routing-map', bytes: arch.numExperts * s.spTokens, recompute: null, swap: 'moe' },
    { name: 'moe.expert-input', bytes: B * h * s.routedCopies, recompute: 'permute', swap: 'moe' },
    { name: 'moe.expert-fc1-output', bytes: B * 2 * fe * s.routedCopies, recompute: null, swap: 'moe' },
    { name: 'moe.expert-act-output', bytes: B * fe * s.routedCopies, recompute: 'activation', swap: 'moe' },
    { name: 'moe.combine-input', bytes: B * h * s.sentCopies, recompute: null, swap: 'moe' },
    { name: 'moe.combine-probs', bytes: 4 * s.sentCopies, recompute: null, swap: 'moe' },
  ];
  if (arch.sharedExpertFfnSize > 0) {
    const fs = arch.sharedExpertFfnSize / s.tp;
    out.push(
      { name: 'moe.shared-fc1-output', bytes: B * 2 * fs * s.tokens, recompute: null, swap: 'mlp' },
      { name: 'moe.shared-act-output', bytes: B * fs * s.tokens, recompute: 'activation', swap: 'mlp' },
    );
  }
  if (s.options.dropout) out.push({ name: 'moe.dropout-mask', bytes: h * s.spTokens, recompute: null, swap: 'moe' });
  return out;
}
