import { z } from 'zod';
import { parseWith, type MoeArchInput } from '@moge/core';
import { ropeThetaOf } from '../rope-theta';
import { COMMON_FIELDS, nonNegativeInt, positiveInt, readCommon, requireStated, type Reading } from './common';

/** DeepSeek-V2 / V3 `config.json` (transformers' DeepseekV2Config / DeepseekV3Config field names). */
const DeepseekSchema = z
  .object({
    ...COMMON_FIELDS,
    model_type: z.enum(['deepseek_v3', 'deepseek_v2']),
    intermediate_size: positiveInt,
    /** null in V2-Lite: queries are projected directly, not through a low-rank bottleneck. */
    q_lora_rank: positiveInt.nullish(),
    kv_lora_rank: positiveInt,
    qk_rope_head_dim: positiveInt,
    qk_nope_head_dim: positiveInt,
    v_head_dim: positiveInt,
    /** null makes a dense model (every layer the intermediate_size MLP). */
    n_routed_experts: positiveInt.nullish(),
    num_experts_per_tok: positiveInt.nullish(),
    moe_intermediate_size: positiveInt.optional(),
    n_shared_experts: nonNegativeInt.nullish(),
    first_k_dense_replace: nonNegativeInt.optional(),
    moe_layer_freq: positiveInt.optional(),
    n_group: positiveInt.nullish(),
    topk_group: positiveInt.nullish(),
    topk_method: z.string().optional(),
    scoring_func: z.string().optional(),
    routed_scaling_factor: z.number().positive().optional(),
    norm_topk_prob: z.boolean().optional(),
    aux_loss_alpha: z.number().nonnegative().optional(),
    seq_aux: z.boolean().optional(),
    num_nextn_predict_layers: nonNegativeInt.optional(),
    /** transformers v5's name for num_nextn_predict_layers (DeepseekV3Config.attribute_map). */
    num_mtp_layers: nonNegativeInt.optional(),
    attention_bias: z.boolean().optional(),
    /** DeepseekV2Config only: biases on the dense and shared-expert MLPs. */
    mlp_bias: z.boolean().optional(),
  })
  .loose();

/**
 * DeepSeek-V3 (and V2, whose fields are the same bar MTP and the router defaults) as a MoeArch:
 * MLA with its low-rank sizes, `first_k_dense_replace` leading dense layers of `intermediate_size`,
 * `n_shared_experts × moe_intermediate_size` of shared expert, the group-limited router for
 * `n_group > 1`, `num_nextn_predict_layers` MTP modules (counted apart, as DeepSeek reports 671 B).
 */
export function readDeepseek(json: unknown, r: Reading): MoeArchInput {
  const hf = parseWith(DeepseekSchema, json, r.subject);
  const v3 = hf.model_type === 'deepseek_v3';
  readCommon(hf, r, { slidingWindowField: 'none' });
  // DeepseekV2Config and DeepseekV3Config default these differently (V3: 3 dense layers, 1 shared expert, …).
  requireStated(hf, ['q_lora_rank', 'n_routed_experts'], r);
  const moe = hf.n_routed_experts != null;
  if (moe) requireStated(hf, ['num_experts_per_tok', 'moe_intermediate_size', 'n_shared_experts', 'first_k_dense_replace'], r);
  if (moe && hf.num_experts_per_tok === null) r.refuse('num_experts_per_tok', null, 'a positive integer when n_routed_experts is set');
  // MoE on every moe_layer_freq-th layer only: dense layers in between, which MoeArch cannot place.
  if (moe && hf.moe_layer_freq !== undefined && hf.moe_layer_freq !== 1) {
    r.refuse('moe_layer_freq', hf.moe_layer_freq, '1: MoeArch places dense layers only before the MoE layers (first_k_dense_replace), not between them');
  }
  const heads = hf.num_attention_heads;
  if (hf.num_key_value_heads != null && hf.num_key_value_heads !== heads) {
    r.note('num_key_value_heads', `${hf.num_key_value_heads} is not used by MLA (keys and values come from the latent for every one of the ${heads} heads)`);
  }
  if (hf.attention_bias === true) r.note('attention_bias', 'true: MLA projection biases are not counted (a few thousand parameters per layer)');
  // Absent, DeepseekV3Config routes in 8 groups, the best 4 (transformers 5.18 configuration_deepseek_v3.py:98-99);
  // DeepseekV2Config leaves both None (configuration_deepseek_v2.py:109, 115). null is one group.
  const groups = hf.n_group === undefined ? (v3 ? 8 : 1) : (hf.n_group ?? 1);
  const topGroups = hf.topk_group === undefined ? (v3 ? 4 : groups) : (hf.topk_group ?? groups);
  // V3 always routes group-limited (modeling_deepseek_v3.py:144-163 reads no topk_method); V2 only with
  // topk_method "group_limited_greedy" (modeling_deepseek_v2.py:102-114).
  const grouped = moe && groups > 1 && (v3 || hf.topk_method === 'group_limited_greedy');
  // DeepseekV2Config's None for either leaves "group_limited_greedy" nothing to route with (modeling_deepseek_v2.py:105-106).
  if (moe && !v3 && hf.topk_method === 'group_limited_greedy') requireStated(hf, ['n_group', 'topk_group'], r);
  if (moe && groups > 1 && !grouped) r.note('n_group', `${groups} is not used by topk_method "${hf.topk_method ?? 'greedy'}" (plain top-k over all experts)`);
  if (grouped && !v3) r.note('topk_method', '"group_limited_greedy" ranks groups by their best expert; the group-limited router ranks them by the sum of their two best (the DeepSeek-V3 rule): same experts per token and FLOPs, other group choices');
  if (moe) routerNotes(hf, r, v3);
  if (!v3 && hf.num_nextn_predict_layers) r.note('num_nextn_predict_layers', 'not read: deepseek_v2 has no MTP modules');
  if (!v3 && hf.mlp_bias === true) r.note('mlp_bias', 'true: the biases of the dense and shared-expert MLPs are not counted (2 × width + hidden_size parameters per MLP)');
  const mla = { qLoraRank: hf.q_lora_rank ?? 0, kvLoraRank: hf.kv_lora_rank, qkRopeHeadDim: hf.qk_rope_head_dim, qkNopeHeadDim: hf.qk_nope_head_dim, vHeadDim: hf.v_head_dim };
  r.check();
  const expertWidth = moe ? hf.moe_intermediate_size! : 0;
  return {
    numLayers: hf.num_hidden_layers,
    hiddenSize: hf.hidden_size,
    numHeads: heads,
    numKvHeads: heads,
    // As the pangu-ultra-moe preset: the q/k head width (non-rotary + rotary part).
    headDim: hf.qk_nope_head_dim + hf.qk_rope_head_dim,
    vocabSize: hf.vocab_size,
    denseFfnSize: hf.intermediate_size,
    numExperts: moe ? hf.n_routed_experts! : 0,
    numExpertGroups: grouped ? groups : 1,
    topK: moe ? hf.num_experts_per_tok! : 0,
    expertFfnSize: expertWidth,
    sharedExpertFfnSize: moe ? (hf.n_shared_experts ?? 0) * expertWidth : 0,
    numDenseLayers: moe ? Math.min(hf.first_k_dense_replace ?? 0, hf.num_hidden_layers) : 0,
    router: grouped ? 'group-limited' : 'topk',
    ...(grouped ? { routerTopGroups: topGroups } : {}),
    routerAuxLossCoef: hf.aux_loss_alpha ?? 0.001,
    // V3's router has e_score_correction_bias, one per expert (a persistent buffer, in the checkpoint);
    // V2's is the weight alone (transformers 5.18 modeling_deepseek_v2.py:92). A dense model has no router.
    ...(moe ? { routerExpertVector: v3 } : {}),
    attention: 'mla',
    mla,
    attentionBias: false,
    mtpDepth: v3 ? mtpDepthOf(hf) : 0,
    ropeTheta: ropeThetaOf(hf, r.subject),
    normEps: hf.rms_norm_eps ?? 1e-6,
    tiedEmbeddings: hf.tie_word_embeddings ?? false,
    maxPositionEmbeddings: hf.max_position_embeddings ?? (v3 ? 4096 : 2048),
  };
}

/**
 * MTP modules of a V3 config: absent, DeepseekV3Config has one (transformers 5.18
 * configuration_deepseek_v3.py:117 `num_mtp_layers: int = 1`, aliased to num_nextn_predict_layers at :80).
 */
function mtpDepthOf(hf: z.output<typeof DeepseekSchema>): number {
  return hf.num_nextn_predict_layers ?? hf.num_mtp_layers ?? 1;
}

/**
 * How DeepSeek weights the chosen experts, as transformers 5.18 computes it: none of it changes which
 * parameters run or their FLOPs. V3 scores with sigmoid plus e_score_correction_bias and
 * renormalises by norm_topk_prob (default true) whatever scoring_func / topk_method say
 * (modeling_deepseek_v3.py:144-169); V2 scores with softmax and never renormalises
 * (modeling_deepseek_v2.py:98-117), though DeepSeek's own V2 code applies norm_topk_prob.
 */
function routerNotes(hf: z.output<typeof DeepseekSchema>, r: Reading, v3: boolean): void {
  const scoring = v3 ? 'sigmoid' : 'softmax';
  const ignored = (field: string, value: string) => `; the config's ${field} "${value}" is not read by transformers' ${v3 ? 'DeepseekV3' : 'DeepseekV2'}`;
  const statedScoring = hf.scoring_func !== undefined && hf.scoring_func !== scoring ? ignored('scoring_func', hf.scoring_func) : '';
  if (v3 || statedScoring) r.note('scoring_func', `"${scoring}": experts are scored with ${scoring}${v3 ? ', not softmax' : ''} (same experts per token and FLOPs)${statedScoring}`);
  const v2Methods = ['greedy', 'group_limited_greedy'];
  if (!v3 && hf.topk_method !== undefined && !v2Methods.includes(hf.topk_method)) {
    r.note('topk_method', `"${hf.topk_method}" is not a method of transformers' DeepseekV2 router (greedy, group_limited_greedy); read as plain top-k over all experts`);
  }
  if (v3) {
    const statedMethod = hf.topk_method !== undefined && hf.topk_method !== 'noaux_tc' ? ignored('topk_method', hf.topk_method) : '';
    r.note('topk_method', `"noaux_tc": auxiliary-loss-free balancing by a per-expert bias (e_score_correction_bias, counted as the router's per-expert vector); the simulator routes with the group-limited rule and its own balance assumptions${statedMethod}`);
  }
  const scale = hf.routed_scaling_factor ?? (v3 ? 2.5 : 1);
  if (scale !== 1) r.note('routed_scaling_factor', `${scale}: routed outputs are scaled (no parameters, negligible FLOPs)`);
  if (v3 && (hf.norm_topk_prob ?? true)) r.note('norm_topk_prob', 'true: top-k weights are renormalised to sum to 1 (no parameters, negligible FLOPs)');
  if (!v3 && hf.norm_topk_prob === true) r.note('norm_topk_prob', 'true: not applied by transformers\' DeepseekV2 (DeepSeek\'s own code renormalises the top-k weights); no parameters, negligible FLOPs either way');
  if (hf.seq_aux === true) r.note('seq_aux', 'true: the balance loss is per sequence, not per batch (aux_loss_alpha is read as routerAuxLossCoef)');
}
