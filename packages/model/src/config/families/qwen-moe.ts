import { z } from 'zod';
import { parseWith, type MoeArchInput } from '@moge/core';
import { COMMON_FIELDS, gqaArchFields, headDimOf, kvHeadsOf, nonNegativeInt, noteQwenAttention, positiveInt, readCommon, requireStated, type Reading } from './common';

/** Qwen2-MoE / Qwen3-MoE `config.json` (transformers' Qwen2MoeConfig / Qwen3MoeConfig field names). */
const QwenMoeSchema = z
  .object({
    ...COMMON_FIELDS,
    model_type: z.enum(['qwen3_moe', 'qwen2_moe']),
    /** Width of the dense MLP of the layers in mlp_only_layers. */
    intermediate_size: positiveInt.optional(),
    num_experts: positiveInt,
    num_experts_per_tok: positiveInt,
    moe_intermediate_size: positiveInt,
    shared_expert_intermediate_size: nonNegativeInt.nullish(),
    decoder_sparse_step: positiveInt.nullish(),
    mlp_only_layers: z.array(z.number().int().nonnegative()).nullish(),
    norm_topk_prob: z.boolean().nullish(),
    router_aux_loss_coef: z.number().nonnegative().optional(),
    attention_bias: z.boolean().optional(),
    qkv_bias: z.boolean().optional(),
  })
  .loose();

/**
 * Qwen2-MoE and Qwen3-MoE as a MoeArch: plain top-k over `num_experts`, `moe_intermediate_size` per
 * expert, qwen2's `shared_expert_intermediate_size` as the shared expert, leading `mlp_only_layers`
 * as dense layers of `intermediate_size`.
 */
export function readQwenMoe(json: unknown, r: Reading): MoeArchInput {
  const hf = parseWith(QwenMoeSchema, json, r.subject);
  const qwen3 = hf.model_type === 'qwen3_moe';
  readCommon(hf, r, { slidingWindowField: 'use_sliding_window' });
  // transformers: layer l is MoE when l ∉ mlp_only_layers and (l + 1) % decoder_sparse_step == 0.
  const step = hf.decoder_sparse_step ?? 1;
  if (step !== 1) r.refuse('decoder_sparse_step', step, '1: with a step of more than one, dense layers alternate with MoE layers, which MoeArch cannot place (dense layers only lead)');
  const dense = [...new Set(hf.mlp_only_layers ?? [])].sort((a, b) => a - b);
  const leading = dense.every((layer, i) => layer === i);
  if (!leading) r.refuse('mlp_only_layers', hf.mlp_only_layers, `the leading layers only ([0, 1, …, k−1]): MoeArch places dense layers before the MoE layers, not at ${JSON.stringify(dense.filter((layer, i) => layer !== i))}`);
  if (dense.length > 0 && hf.intermediate_size === undefined) r.refuse('intermediate_size', undefined, 'the dense MLP width of the mlp_only_layers');
  // Qwen2MoeConfig and Qwen3MoeConfig have no head_dim field: absent, the attention takes
  // hidden_size // heads (transformers 5.18 modeling_qwen3_moe.py:129, modeling_qwen2_moe.py:224).
  const headDim = headDimOf(hf, r);
  if (!qwen3) requireStated(hf, ['shared_expert_intermediate_size'], r);
  // No None here: Qwen3MoeConfig types it int (configuration_qwen3_moe.py:90) and Qwen2MoeConfig, unlike
  // Qwen2Config, has no None → heads fallback (configuration_qwen2_moe.py:82, 109-120).
  if (hf.num_key_value_heads === null) r.refuse('num_key_value_heads', null, `a number of key/value heads: ${hf.model_type} has no null (one per query head) default; state ${hf.num_attention_heads} for one per head`);
  const kvHeads = kvHeadsOf(hf, r, false);
  const shared = qwen3 ? 0 : (hf.shared_expert_intermediate_size ?? 0);
  if (qwen3 && (hf.shared_expert_intermediate_size ?? 0) > 0) r.note('shared_expert_intermediate_size', 'is not used by qwen3_moe (it has no shared expert)');
  if (hf.norm_topk_prob === true) r.note('norm_topk_prob', 'true: top-k weights are renormalised to sum to 1 (no parameters, negligible FLOPs)');
  if (shared > 0) r.note('shared_expert_intermediate_size', `the shared expert's sigmoid gate (shared_expert_gate, hidden_size = ${hf.hidden_size} parameters per MoE layer) is not counted`);
  const bias = qwen3 ? (hf.attention_bias ?? false) : (hf.qkv_bias ?? true);
  noteQwenAttention(hf, r, { qwen3, qkvBias: !qwen3 && bias, headDim });
  r.check();
  return {
    ...gqaArchFields(hf, r, { kvHeads, headDim, normEps: 1e-6, maxPositions: 32768 }),
    denseFfnSize: dense.length > 0 ? hf.intermediate_size! : 0,
    numExperts: hf.num_experts,
    numExpertGroups: 1,
    topK: hf.num_experts_per_tok,
    expertFfnSize: hf.moe_intermediate_size,
    sharedExpertFfnSize: shared,
    numDenseLayers: Math.min(dense.length, hf.num_hidden_layers),
    router: 'topk',
    routerAuxLossCoef: hf.router_aux_loss_coef ?? 0.001,
    // The gate is the weight alone (transformers 5.18 modeling_qwen2_moe.py:325, modeling_qwen3_moe.py:256).
    routerExpertVector: false,
    attentionBias: bias,
  };
}
