import { z } from 'zod';

/**
 * Fields that Hugging Face configs of the Qwen2-MoE family (which PanguProMoE's modeling code
 * derives from) carry and that change the model's math when set to anything but the value this
 * package computes with. A config that sets one of them otherwise describes a model we would run
 * wrongly — silently, since every tensor still has the right shape — so each is refused with the fix.
 * Absent or null means the HF default, which is ours. Fields that change nothing we compute
 * (torch_dtype, use_cache, bos/eos ids, initializer_range, output_router_logits, …) pass through.
 */

/** What transformers ≥ 4.45 writes for plain RoPE: `{rope_type: "default"}` (older: `type`). */
function isDefaultRope(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const kind = (value as Record<string, unknown>).rope_type ?? (value as Record<string, unknown>).type;
  return kind === undefined || kind === 'default';
}

const NOT_IMPLEMENTED = 'is not implemented here';

export const HF_MATH_FIELDS = {
  hidden_act: z
    .literal('silu', { error: '"silu" (the SwiGLU activation of PanguProMoE; other activations are not implemented)' })
    .default('silu'),
  rope_scaling: z
    .unknown()
    .refine((v) => v === undefined || v === null || isDefaultRope(v), {
      error: `null or absent: RoPE scaling (linear, dynamic, yarn, longrope, llama3) ${NOT_IMPLEMENTED}; remove rope_scaling to run at the trained context`,
    })
    .optional(),
  /** transformers v5 moves rope_theta here (`{rope_type, rope_theta}`); archFromHfConfig reads it. */
  rope_parameters: z
    .object({ rope_type: z.literal('default', { error: `"default": RoPE scaling ${NOT_IMPLEMENTED}` }), rope_theta: z.number().positive().optional() })
    .loose()
    .nullish(),
  attention_dropout: z
    .literal(0, { error: `0: attention dropout ${NOT_IMPLEMENTED} (it would change training; set attention_dropout to 0.0)` })
    .nullish(),
  use_sliding_window: z
    .literal(false, { error: `false: sliding-window attention ${NOT_IMPLEMENTED} (every layer attends to the full causal context)` })
    .nullish(),
  norm_topk_prob: z
    .literal(false, { error: 'false: MoGE weights the chosen experts by p · router_scale without renormalising the top-k probabilities' })
    .nullish(),
  decoder_sparse_step: z
    .literal(1, { error: '1: every PanguProMoE layer is MoE (dense layers in between are not implemented)' })
    .nullish(),
  mlp_only_layers: z
    .array(z.unknown())
    .refine((layers) => layers.length === 0, { error: '[] (empty): every PanguProMoE layer is MoE (dense-MLP layers are not implemented)' })
    .nullish(),
  partial_rotary_factor: z
    .literal(1, { error: `1: RoPE rotates the whole head (partial rotary ${NOT_IMPLEMENTED})` })
    .nullish(),
} as const;
