import type { ElementwiseOp, OpModule } from './ops';

/**
 * Fused vs unfused memory-bound operators. Each family below is one MindSpeed switch: with it a single
 * torch_npu kernel does the work (`--use-fused-rmsnorm` → npu_rms_norm, `--use-fused-rotary-pos-emb` →
 * npu_rotary_mul, `--use-fused-swiglu` → npu_swiglu, `--use-fused-moe-token-permute-and-unpermute` →
 * npu_moe_token_permute / npu_moe_token_unpermute); without it the standard PyTorch / Megatron code runs
 * as a chain of eager ops, each a kernel that streams its inputs from HBM and writes its output back.
 *
 * The unfused costs are counted from those op chains (forward, and the backward autograd runs for
 * them): HBM bytes per element of the tensor named for each family, and kernel launches. They are
 * structural, not fitted. `A` is an activation element (bf16, 2 bytes), `F` an fp32 element (4 bytes);
 * per-row tensors (a norm's rsqrt, a token's probability) are left out of the bytes, and broadcasts
 * are read once. The fused kernels keep the simulator's long-standing convention (forward: read the
 * input, write the output; backward: 1.5× the forward's bytes — the incoming gradient and the saved
 * input read, one gradient written; one launch each), so a plan with fused kernels costs what it did
 * before this model existed.
 */
export interface ElementwiseFusion {
  /** `--use-fused-rmsnorm`: every RMSNorm of the model. */
  rmsNorm: boolean;
  /** `--use-fused-rotary-pos-emb`: rotary embedding of queries and keys. */
  rope: boolean;
  /** `--use-fused-swiglu`: the SwiGLU of dense FFNs, shared and routed experts. */
  swiglu: boolean;
  /** `--use-fused-moe-token-permute-and-unpermute`: MoE token permute and unpermute (with the probs multiply). */
  moePermute: boolean;
}

export const ALL_ELEMENTWISE_FUSED: Readonly<ElementwiseFusion> = { rmsNorm: true, rope: true, swiglu: true, moePermute: true };
export const NO_ELEMENTWISE_FUSED: Readonly<ElementwiseFusion> = { rmsNorm: false, rope: false, swiglu: false, moePermute: false };

const A = 2;
const F = 4;

/** HBM traffic and launches of an unfused op chain, forward and backward, per element of its reference tensor. */
export interface UnfusedPasses {
  forwardBytesPerElement: number;
  backwardBytesPerElement: number;
  forwardLaunches: number;
  backwardLaunches: number;
}

/**
 * RMSNorm without `--use-fused-rmsnorm` (MindSpeed-LLM / Llama reference `RMSNorm`:
 * `(x.float() * rsqrt(x.float().pow(2).mean(-1) + eps)).type_as(x) * weight`), per element of x.
 * Forward: x.float() A+F, pow(2) 2F, mean F, (add eps, rsqrt: per row), mul by rsqrt 2F, type_as F+A,
 * mul by weight 2A → 4A + 7F = 36 bytes; 8 launches (float, pow, mean, add, rsqrt, mul, type_as, mul).
 * Backward (autograd): dy·w 2A, dw = sum(dy·out) 3A + A, type_as⁻¹ A+F, g·rsqrt 2F,
 * d(rsqrt) = sum(g·x) 3F + F, mean⁻¹ (expand / n) F, pow⁻¹ (x.pow(1), ×2, ×grad) 2F + 2F + 3F, the two
 * gradients of x.float() added 3F, float⁻¹ F+A → 8A + 19F = 92 bytes; 16 launches (the 12 above plus
 * rsqrt's backward -0.5·g·r³ as pow, mul, mul). Fused: 2A forward, 3A backward, one launch each.
 */
export const RMSNORM_UNFUSED: UnfusedPasses = {
  forwardBytesPerElement: 4 * A + 7 * F,
  backwardBytesPerElement: 8 * A + 19 * F,
  forwardLaunches: 8,
  backwardLaunches: 16,
};

/**
 * Rotary embedding without `--use-fused-rotary-pos-emb` (Megatron-core `_apply_rotary_pos_emb_bshd`,
 * rotate-half: `cat(t·cos + cat(−x2, x1)·sin, t_pass)`, full rotary dimension), per element of q or k.
 * Forward: neg of one half A, cat(−x2, x1) 2A, ·cos 2A, ·sin 2A, add 3A, final cat with the (empty)
 * pass-through 2A → 12A = 24 bytes; 6 launches per call. Backward: ·cos 2A, ·sin 2A, neg of one half A,
 * chunk⁻¹ (cat of the halves) 2A, the two gradients of t added 3A, and the empty pass-through's
 * slice⁻¹ (a zero tensor of t's full size, A) added to them 3A → 14A = 28 bytes; 7 launches per call
 * (the 7 CUDA kernels torch.profiler counts, tools/calibrate/data/h200-unfused-elementwise.json). cos
 * and sin of the positions are computed in both implementations and are not counted. Queries and keys
 * are two calls.
 */
export const ROPE_UNFUSED: UnfusedPasses = {
  forwardBytesPerElement: 12 * A,
  backwardBytesPerElement: 14 * A,
  forwardLaunches: 2 * 6,
  backwardLaunches: 2 * 7,
};

/**
 * SwiGLU without `--use-fused-swiglu` (Megatron-core `glu`: `x0, x1 = chunk(x, 2); silu(x0) * x1`),
 * per element of the output (the input has twice as many). Forward: silu 2A, mul 3A → 5A = 10 bytes;
 * 2 launches. Backward: g·x1 3A, g·silu(x0) 3A, silu_backward 3A, chunk⁻¹ (cat of both halves' gradients,
 * 2 + 2 elements per output element) 4A → 13A = 26 bytes; 4 launches. Fused: 3A forward.
 */
export const SWIGLU_UNFUSED: UnfusedPasses = {
  forwardBytesPerElement: 5 * A,
  backwardBytesPerElement: 13 * A,
  forwardLaunches: 2,
  backwardLaunches: 4,
};

/**
 * MoE token permute without the fused kernel (Megatron-core `permute`: `sorted = argsort(indices)`,
 * `tokens.index_select(0, sorted // topk)`), per element of the permuted copies (tokens × topK × hidden).
 * Forward: the gather 2A (the sort is over small int indices); 3 launches (argsort, floor-divide,
 * index_select). Backward: index_select⁻¹ = zeros(tokens × hidden) A/topK + index_add_ (read the
 * gradient, read and write the destination) 3A; 2 launches. Same bytes as the fused kernel but for the
 * zero fill: the gain from fusing permute is its launches.
 */
export function permuteUnfused(topK: number): UnfusedPasses {
  return { forwardBytesPerElement: 2 * A, backwardBytesPerElement: 3 * A + A / topK, forwardLaunches: 3, backwardLaunches: 2 };
}

/**
 * MoE token unpermute without the fused kernel (Megatron-core `unpermute`: `zeros(tokens·topK, hidden)
 * .index_copy_(0, sorted, permuted)`, reshape, `* probs`, `sum(dim=1)`), per permuted element.
 * Forward: zeros A, index_copy_ 2A, probs multiply 2A, sum over topK A + A/topK → 6A + A/topK;
 * 4 launches. Backward: the summed gradient broadcast × probs A/topK + A, d(probs) = sum(g·x)
 * A/topK + A + A then A, index_copy_⁻¹ = index_select 2A → 6A + 2A/topK; 4 launches. Fused: 2A forward
 * (read the copies, write the tokens, probs applied in the same pass).
 */
export function unpermuteUnfused(topK: number): UnfusedPasses {
  return { forwardBytesPerElement: 6 * A + A / topK, backwardBytesPerElement: 6 * A + (2 * A) / topK, forwardLaunches: 4, backwardLaunches: 4 };
}

/**
 * An elementwise op over `elements` of the reference tensor: fused (the given forward bytes, the
 * default backward and launches) or unfused (the chain's bytes and launches, counted for bf16
 * activations — what the training simulator runs).
 */
export function elementwiseOp(name: string, module: OpModule, fused: boolean, fusedForwardBytes: number, flops: number, elements: number, unfused: UnfusedPasses): ElementwiseOp {
  if (fused) return { kind: 'elementwise', name, module, bytes: fusedForwardBytes, flops };
  return {
    kind: 'elementwise',
    name,
    module,
    bytes: elements * unfused.forwardBytesPerElement,
    flops,
    backwardBytes: elements * unfused.backwardBytesPerElement,
    launches: unfused.forwardLaunches,
    backwardLaunches: unfused.backwardLaunches,
  };
}
