/**
 * An independent parameter count of a config.json, written from the module shapes transformers 5.18
 * instantiates (modeling_*.py) with its config class defaults (configuration_*.py) for the fields a
 * config leaves out. It shares nothing with @moge/core's countParameters, so the family readers'
 * tests can compare the two: every difference must be one the readers name in a note.
 * Checkpoint state (the parameters plus DeepSeek-V3's persistent e_score_correction_bias buffer).
 */

type Json = Record<string, unknown>;

/** Class defaults of the sizing fields (transformers 5.18 configuration_<family>.py, line numbers cited). */
const DEFAULTS: Record<string, Json> = {
  // configuration_deepseek_v3.py:83-117 (num_mtp_layers is num_nextn_predict_layers, attribute_map :80)
  deepseek_v3: {
    vocab_size: 129280, hidden_size: 7168, intermediate_size: 18432, moe_intermediate_size: 2048, num_hidden_layers: 61,
    num_attention_heads: 128, n_shared_experts: 1, n_routed_experts: 256, kv_lora_rank: 512, q_lora_rank: 1536,
    qk_rope_head_dim: 64, v_head_dim: 128, qk_nope_head_dim: 128, num_experts_per_tok: 8, first_k_dense_replace: 3,
    tie_word_embeddings: false, attention_bias: false, num_nextn_predict_layers: 1,
  },
  // configuration_deepseek_v2.py:76-120
  deepseek_v2: {
    vocab_size: 102400, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
    tie_word_embeddings: false, attention_bias: false, mlp_bias: false, first_k_dense_replace: 0, kv_lora_rank: 512,
    q_lora_rank: 1536, n_routed_experts: 64, n_shared_experts: 2, qk_nope_head_dim: 128, qk_rope_head_dim: 64,
    v_head_dim: 128, moe_intermediate_size: 1407,
  },
  // configuration_qwen3_moe.py:85-109 (no head_dim field)
  qwen3_moe: {
    vocab_size: 151936, hidden_size: 2048, intermediate_size: 6144, num_hidden_layers: 24, num_attention_heads: 32,
    num_key_value_heads: 4, tie_word_embeddings: false, attention_bias: false, decoder_sparse_step: 1,
    moe_intermediate_size: 768, num_experts_per_tok: 8, num_experts: 128, mlp_only_layers: [],
  },
  // configuration_qwen2_moe.py:77-103 (no head_dim field)
  qwen2_moe: {
    vocab_size: 151936, hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 24, num_attention_heads: 16,
    num_key_value_heads: 16, tie_word_embeddings: false, decoder_sparse_step: 1, moe_intermediate_size: 1408,
    shared_expert_intermediate_size: 5632, num_experts_per_tok: 4, num_experts: 60, mlp_only_layers: [], qkv_bias: true,
  },
  // configuration_mixtral.py:51-75
  mixtral: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 8, tie_word_embeddings: false, num_experts_per_tok: 2, num_local_experts: 8,
  },
  // configuration_qwen2.py:61-81 (no head_dim, no attention_bias field)
  qwen2: { vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, tie_word_embeddings: false },
  // configuration_qwen3.py:62-84
  qwen3: {
    vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, head_dim: 128, tie_word_embeddings: false, attention_bias: false,
  },
  // configuration_llama.py:64-84
  llama: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
    tie_word_embeddings: false, attention_bias: false, mlp_bias: false,
  },
};

const linear = (inputs: number, outputs: number, bias = false) => inputs * outputs + (bias ? outputs : 0);
/** gate_proj, up_proj, down_proj. */
const gatedMlp = (h: number, width: number, bias = false) => 2 * linear(h, width, bias) + linear(width, h, bias);

export interface TransformersCount {
  total: number;
  /** What one token touches: embedding, head, norms, attention, dense/shared MLPs, router, top-k experts. */
  active: number;
  /** DeepSeek-V3's MTP modules (modeling_layers.py MtpLayer; embedding and head shared with the model). */
  mtp: number;
}

interface Layer {
  total: number;
  active: number;
}

/** The count of `config` (a decoded config.json of one of DEFAULTS' families). */
export function transformersParamCount(config: Json): TransformersCount {
  const type = config.model_type as string;
  const c = { ...DEFAULTS[type], ...config } as Record<string, never>;
  const h: number = c.hidden_size;
  const layers: number = c.num_hidden_layers;
  const embedding = c.vocab_size * h;
  const head = c.tie_word_embeddings ? 0 : c.vocab_size * h;
  const layer = type.startsWith('deepseek') ? deepseekLayer(c, type === 'deepseek_v3') : gqaLayer(c, type);
  let total = embedding + head + h; // + final norm
  let active = total;
  for (let i = 0; i < layers; i++) {
    const l = layer(i, false);
    total += l.total;
    active += l.active;
  }
  // MtpLayer: enorm, hnorm, eh_proj (2h → h), a decoder layer built with first_k_dense_replace 0, post_norm.
  const mtp = type === 'deepseek_v3' ? (c.num_nextn_predict_layers as number) * (3 * h + 2 * h * h + layer(0, true).total) : 0;
  return { total, active, mtp };
}

/** modeling_deepseek_v3.py:361-417 / modeling_deepseek_v2.py:299-355 (MLA), :497-507 / :436 (MoE from first_k_dense_replace). */
function deepseekLayer(c: Record<string, never>, v3: boolean): (i: number, mtp: boolean) => Layer {
  const h: number = c.hidden_size;
  const heads: number = c.num_attention_heads;
  const qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
  const bias: boolean = c.attention_bias;
  const qLora: number | null = c.q_lora_rank;
  const q = qLora === null ? linear(h, heads * qk) : linear(h, qLora, bias) + qLora + linear(qLora, heads * qk);
  const attention = q + linear(h, c.kv_lora_rank + c.qk_rope_head_dim, bias) + c.kv_lora_rank + linear(c.kv_lora_rank, heads * (c.qk_nope_head_dim + c.v_head_dim)) + linear(heads * c.v_head_dim, h, bias);
  const mlpBias = !v3 && (c.mlp_bias as boolean);
  const experts: number = c.n_routed_experts;
  const width: number = c.moe_intermediate_size;
  return (i, mtp) => {
    if (!mtp && i < c.first_k_dense_replace) {
      const dense = attention + 2 * h + gatedMlp(h, c.intermediate_size, mlpBias);
      return { total: dense, active: dense };
    }
    // Router weight, plus V3's e_score_correction_bias (a persistent buffer, in the checkpoint); shared experts.
    const common = attention + 2 * h + experts * h + (v3 ? experts : 0) + gatedMlp(h, width * c.n_shared_experts, mlpBias);
    return { total: common + experts * gatedMlp(h, width), active: common + (c.num_experts_per_tok as number) * gatedMlp(h, width) };
  };
}

/** Llama, Qwen2, Qwen3, Mixtral, Qwen2-MoE, Qwen3-MoE attention and MLP blocks. */
function gqaLayer(c: Record<string, never>, type: string): (i: number) => Layer {
  const h: number = c.hidden_size;
  const heads: number = c.num_attention_heads;
  const kvHeads: number = c.num_key_value_heads ?? heads;
  // modeling_llama.py:224, modeling_qwen2.py:184, modeling_qwen3.py:219, modeling_mixtral.py:289,
  // modeling_qwen2_moe.py:224, modeling_qwen3_moe.py:129.
  const headDim: number = c.head_dim ?? Math.floor(h / heads);
  // Qwen2: q/k/v biases always, none on o (modeling_qwen2.py:189-192); Qwen2-MoE: the same by qkv_bias
  // (modeling_qwen2_moe.py:230-233); Llama, Qwen3, Qwen3-MoE: all four by attention_bias; Mixtral: none.
  const qkvBias: boolean = type === 'qwen2' ? true : type === 'qwen2_moe' ? c.qkv_bias : type === 'mixtral' ? false : c.attention_bias;
  const oBias = type === 'qwen2' || type === 'qwen2_moe' ? false : qkvBias;
  let attention = linear(h, heads * headDim, qkvBias) + 2 * linear(h, kvHeads * headDim, qkvBias) + linear(heads * headDim, h, oBias);
  if (type === 'qwen3' || type === 'qwen3_moe') attention += 2 * headDim; // q_norm, k_norm (modeling_qwen3.py:237-238, modeling_qwen3_moe.py:147-148)
  const dense = attention + 2 * h + gatedMlp(h, c.intermediate_size, type === 'llama' && (c.mlp_bias as boolean));
  if (type === 'llama' || type === 'qwen2' || type === 'qwen3') return () => ({ total: dense, active: dense });
  const experts: number = type === 'mixtral' ? c.num_local_experts : c.num_experts;
  const width: number = type === 'mixtral' ? c.intermediate_size : c.moe_intermediate_size;
  // shared_expert and its sigmoid shared_expert_gate (hidden → 1), modeling_qwen2_moe.py:344-345.
  const shared = type === 'qwen2_moe' ? gatedMlp(h, c.shared_expert_intermediate_size) + h : 0;
  const common = attention + 2 * h + experts * h + shared;
  const moe = { total: common + experts * gatedMlp(h, width), active: common + (c.num_experts_per_tok as number) * gatedMlp(h, width) };
  if (type === 'mixtral') return () => moe;
  // modeling_qwen3_moe.py:309-314 / modeling_qwen2_moe.py:365-370.
  const mlpOnly: number[] = c.mlp_only_layers ?? [];
  return (i) => (!mlpOnly.includes(i) && experts > 0 && (i + 1) % (c.decoder_sparse_step as number) === 0 ? moe : { total: dense, active: dense });
}
