import { z } from 'zod';
import { parseWith, type MoeArchInput } from '@moge/core';
import { ropeThetaOf } from '../rope-theta';
import { COMMON_FIELDS, headDimOf, kvHeadsOf, positiveInt, readCommon, type Reading } from './common';

/** Llama / Qwen2 / Qwen3 `config.json` (transformers' field names). */
const DenseSchema = z
  .object({
    ...COMMON_FIELDS,
    model_type: z.enum(['llama', 'qwen2', 'qwen3']),
    intermediate_size: positiveInt,
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
  })
  .loose();

/** HF defaults of max_position_embeddings where a config leaves it out. */
const DEFAULT_POSITIONS = { llama: 2048, qwen2: 32768, qwen3: 32768 } as const;

/** A dense decoder (numExperts 0): `intermediate_size` is the SwiGLU MLP of every layer. */
export function readDense(json: unknown, r: Reading): MoeArchInput {
  const hf = parseWith(DenseSchema, json, r.subject);
  const type = hf.model_type;
  // Qwen2 configs may turn sliding windows on (use_sliding_window); Llama and Qwen3 do so only by layer_types.
  readCommon(hf, r, { slidingWindowField: type === 'llama' ? 'none' : 'use_sliding_window' });
  if (type === 'qwen3' && hf.head_dim == null) r.refuse('head_dim', hf.head_dim, 'the per-head width, as Qwen3 configs state it (transformers\' default is 128, not hidden_size / num_attention_heads)');
  const headDim = headDimOf(hf, r);
  // LlamaConfig leaves it None (one per query head); Qwen2Config and Qwen3Config default to 32.
  const kvHeads = kvHeadsOf(hf, r, type === 'llama');
  // Qwen2 always has q/k/v biases (no config field); llama's and qwen3's attention_bias covers q, k, v and o.
  const bias = type === 'qwen2' ? true : (hf.attention_bias ?? false);
  if (type === 'qwen2') r.note('attention_bias', `q/k/v have biases and o has none; counted as biases on q, k, v and o (hidden_size = ${hf.hidden_size} parameters per layer too many)`);
  if (type === 'qwen3') r.note('q_norm', `the per-head RMSNorm of q and k (2 × head_dim = ${2 * headDim} parameters per layer) is not counted`);
  if (hf.mlp_bias === true) r.note('mlp_bias', 'true: MLP biases are not counted (2 × intermediate_size + hidden_size parameters per layer)');
  r.check();
  return {
    numLayers: hf.num_hidden_layers,
    hiddenSize: hf.hidden_size,
    numHeads: hf.num_attention_heads,
    numKvHeads: kvHeads,
    headDim,
    vocabSize: hf.vocab_size,
    denseFfnSize: hf.intermediate_size,
    numExperts: 0,
    attention: 'gqa',
    attentionBias: bias,
    ropeTheta: ropeThetaOf(hf, r.subject),
    normEps: hf.rms_norm_eps ?? 1e-6,
    tiedEmbeddings: hf.tie_word_embeddings ?? false,
    maxPositionEmbeddings: hf.max_position_embeddings ?? DEFAULT_POSITIONS[type],
  };
}
