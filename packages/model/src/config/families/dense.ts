import { z } from 'zod';
import { parseWith, type MoeArchInput } from '@moge/core';
import { COMMON_FIELDS, gqaArchFields, kvHeadsOf, noteQwenAttention, positiveInt, qwenAttentionHeadDim, readCommon, type Reading } from './common';

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
  const headDim = qwenAttentionHeadDim(hf, r, type === 'qwen3');
  // LlamaConfig leaves it None (one per query head); Qwen2Config and Qwen3Config default to 32.
  const kvHeads = kvHeadsOf(hf, r, type === 'llama');
  // Qwen2 always has q/k/v biases (no config field); llama's and qwen3's attention_bias covers q, k, v and o.
  const bias = type === 'qwen2' ? true : (hf.attention_bias ?? false);
  if (type !== 'llama') noteQwenAttention(hf, r, { qwen3: type === 'qwen3', qkvBias: type === 'qwen2', headDim });
  if (hf.mlp_bias === true) r.note('mlp_bias', 'true: MLP biases are not counted (2 × intermediate_size + hidden_size parameters per layer)');
  r.check();
  return {
    ...gqaArchFields(hf, r, { kvHeads, headDim, normEps: 1e-6, maxPositions: DEFAULT_POSITIONS[type] }),
    denseFfnSize: hf.intermediate_size,
    numExperts: 0,
    attentionBias: bias,
  };
}
