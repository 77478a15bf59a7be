import { z } from 'zod';
import { ValidationError, type FieldIssue } from '@moge/core';
import { ropeThetaOf } from '../rope-theta';
import { firstQwenSlidingLayer } from './qwen-sliding';

/**
 * What the family readers share. They read a config.json as an architecture for planning only, so
 * the rule is not the runnable model's ("refuse whatever we would compute differently") but the
 * planner's: a difference that leaves parameter counts and FLOPs (nearly) unchanged is kept as a note,
 * one line, for the CLI to print; one that would change them noticeably is refused, naming the field.
 */

export const positiveInt = z.number().int().positive();
export const nonNegativeInt = z.number().int().nonnegative();

/** The config keys every family reader looks at besides its own (all optional, as in HF configs). */
export const COMMON_FIELDS = {
  architectures: z.array(z.string()).optional(),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  max_position_embeddings: positiveInt.optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_parameters: z.object({ rope_type: z.string().optional(), type: z.string().optional(), rope_theta: z.number().positive().optional() }).loose().nullish(),
  rope_scaling: z.unknown().optional(),
  tie_word_embeddings: z.boolean().optional(),
  hidden_act: z.string().optional(),
  attention_dropout: z.number().nonnegative().nullish(),
  partial_rotary_factor: z.number().positive().nullish(),
  layer_types: z.array(z.string()).nullish(),
  use_sliding_window: z.boolean().nullish(),
  sliding_window: z.number().int().positive().nullish(),
  /** Qwen: which layers use_sliding_window makes sliding (firstQwenSlidingLayer). */
  max_window_layers: nonNegativeInt.optional(),
  quantization_config: z.record(z.string(), z.unknown()).nullish(),
} as const;
export type HfCommon = z.output<z.ZodObject<typeof COMMON_FIELDS>>;

/** Notes (planning-neutral differences) and issues (refusals) collected while reading one config. */
export class Reading {
  readonly notes: string[] = [];
  readonly issues: FieldIssue[] = [];
  constructor(readonly subject: string, readonly modelType: string) {}
  /** A difference MoeArch cannot state that barely changes planning: `field: what, and why it is harmless`. */
  note(field: string, text: string): void {
    this.notes.push(`${this.modelType} ${field}: ${text}`);
  }
  refuse(path: string, received: unknown, expected: string): void {
    this.issues.push({ path, received, expected });
  }
  /** Throws the refusals gathered so far, every one named. */
  check(): void {
    if (this.issues.length > 0) throw new ValidationError(this.subject, this.issues, `moge reads ${this.modelType} configs as architectures for planning; a field it cannot express in MoeArch without changing parameter counts or FLOPs is refused`);
  }
}

/**
 * Refuses a sizing field the config leaves out where transformers would fill in a class default that
 * is not a neutral value (DeepseekV3Config's first_k_dense_replace is 3, Qwen2Config's
 * num_key_value_heads 32, …): guessing would change the counts without a word. Published configs
 * state them all; `null`, where the family allows it, is a statement.
 */
export function requireStated(hf: Record<string, unknown>, fields: readonly string[], r: Reading): void {
  for (const field of fields) {
    if (hf[field] === undefined) r.refuse(field, undefined, `a stated value: without it transformers uses its ${r.modelType} class default, which moge does not guess; copy it from the model's published config.json`);
  }
}

/** Key/value heads: `null` means one per query head (as in transformers); absent is refused unless the family defaults to that too (llama). */
export function kvHeadsOf(hf: HfCommon, r: Reading, absentMeansHeads: boolean): number {
  if (hf.num_key_value_heads === undefined && !absentMeansHeads) requireStated(hf, ['num_key_value_heads'], r);
  return hf.num_key_value_heads ?? hf.num_attention_heads;
}

/** `rope_scaling` / `rope_parameters` kinds that are plain RoPE. */
function ropeKind(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const kind = v.rope_type ?? v.type;
  return typeof kind === 'string' && kind !== 'default' ? kind : undefined;
}

/** Head dimension: an explicit head_dim, or hidden / heads when the family derives it. */
export function headDimOf(hf: HfCommon, r: Reading): number {
  if (hf.head_dim != null) return hf.head_dim;
  if (hf.hidden_size % hf.num_attention_heads !== 0) {
    r.refuse('hidden_size', hf.hidden_size, `a multiple of num_attention_heads (${hf.num_attention_heads}) when head_dim is absent`);
    return 1;
  }
  return hf.hidden_size / hf.num_attention_heads;
}

/**
 * The checks and notes every family shares: activation, RoPE scaling, dropout, partial rotary,
 * quantised weights (notes); sliding-window or other non-full attention layers (refused: they change
 * the attention FLOPs and the KV cache of long sequences).
 */
export function readCommon(hf: HfCommon, r: Reading, opts: { slidingWindowField: 'use_sliding_window' | 'sliding_window' | 'none' }): void {
  if (hf.hidden_act !== undefined && hf.hidden_act !== 'silu') {
    r.note('hidden_act', `"${hf.hidden_act}": counted as the SwiGLU (silu) gated MLP; a gated MLP has the same parameters and FLOPs whatever its activation`);
  }
  const scaling = ropeKind(hf.rope_scaling) ?? ropeKind(hf.rope_parameters);
  if (scaling !== undefined) {
    r.note('rope_scaling', `"${scaling}" RoPE scaling is not modelled: it changes no parameter count or FLOPs; maxPositionEmbeddings is the config's max_position_embeddings${hf.max_position_embeddings !== undefined ? ` (${hf.max_position_embeddings})` : ''}`);
  }
  if (hf.attention_dropout != null && hf.attention_dropout > 0) r.note('attention_dropout', `${hf.attention_dropout}: dropout is not modelled (no parameters, negligible FLOPs)`);
  if (hf.partial_rotary_factor != null && hf.partial_rotary_factor !== 1) r.note('partial_rotary_factor', `${hf.partial_rotary_factor}: partial RoPE is not modelled (no parameters, negligible FLOPs)`);
  if (hf.quantization_config != null) {
    const method = hf.quantization_config.quant_method;
    r.note('quantization_config', `the published weights are quantised${typeof method === 'string' ? ` (${method})` : ''}; moge's memory and time figures use the dtypes of the plan, not those of the files`);
  }
  const notFull = (hf.layer_types ?? []).findIndex((t) => t !== 'full_attention');
  if (notFull >= 0) r.refuse(`layer_types[${notFull}]`, hf.layer_types![notFull], '"full_attention" for every layer: sliding-window layers change attention FLOPs and the KV cache, which MoeArch cannot express');
  if (opts.slidingWindowField === 'use_sliding_window' && hf.use_sliding_window === true) {
    const first = firstQwenSlidingLayer(hf, r.modelType);
    if (first >= 0) r.refuse('use_sliding_window', true, `false: it makes layer ${first} (max_window_layers ${hf.max_window_layers ?? 28}) a sliding-window layer, which changes attention FLOPs and the KV cache, which MoeArch cannot express`);
    else r.note('use_sliding_window', `true, but no layer slides (max_window_layers ${hf.max_window_layers ?? 28}${hf.sliding_window === null ? ', sliding_window null' : ''}): every layer is full attention, as in transformers`);
  }
  if (opts.slidingWindowField === 'sliding_window' && hf.sliding_window != null && hf.sliding_window < (hf.max_position_embeddings ?? Infinity)) {
    r.refuse('sliding_window', hf.sliding_window, `null (or at least max_position_embeddings): sliding-window attention changes attention FLOPs and the KV cache, which MoeArch cannot express`);
  }
}

/** What a family defaults where its config leaves a field out, and the heads it resolved. */
export interface GqaDefaults {
  kvHeads: number;
  headDim: number;
  normEps: number;
  maxPositions: number;
  /** RoPE θ when the config states none (default: ropeThetaOf's). */
  ropeTheta?: number;
}

/**
 * The MoeArch fields every GQA family states the same way (transformers' names): sizes, heads,
 * vocabulary, RoPE θ, norm ε, positions and tying. Each family adds its FFN and router fields.
 */
export function gqaArchFields(hf: HfCommon, r: Reading, d: GqaDefaults) {
  return {
    numLayers: hf.num_hidden_layers,
    hiddenSize: hf.hidden_size,
    numHeads: hf.num_attention_heads,
    numKvHeads: d.kvHeads,
    headDim: d.headDim,
    vocabSize: hf.vocab_size,
    attention: 'gqa' as const,
    ropeTheta: ropeThetaOf(hf, r.subject, d.ropeTheta),
    normEps: hf.rms_norm_eps ?? d.normEps,
    tiedEmbeddings: hf.tie_word_embeddings ?? false,
    maxPositionEmbeddings: hf.max_position_embeddings ?? d.maxPositions,
  };
}

/**
 * Qwen attention as MoeArch counts it: a dense Qwen3 config must state head_dim (refused when absent:
 * Qwen3Config's default is 128, not hidden / heads — transformers 5.18 configuration_qwen3.py:68),
 * while Qwen3MoeConfig has no head_dim field and its attention takes hidden_size // heads when the
 * config states none (modeling_qwen3_moe.py:129), as Qwen2's does. Qwen3's q/k norms are not counted;
 * Qwen2's q/k/v biases (o has none) are counted as biases on q, k, v and o. Each said as a note.
 */
export function qwenAttentionHeadDim(hf: HfCommon, r: Reading, denseQwen3: boolean): number {
  if (denseQwen3 && hf.head_dim == null) r.refuse('head_dim', hf.head_dim, 'the per-head width, as Qwen3 configs state it (transformers\' default is 128, not hidden_size / num_attention_heads)');
  return headDimOf(hf, r);
}

export function noteQwenAttention(hf: HfCommon, r: Reading, o: { qwen3: boolean; qkvBias: boolean; headDim: number }): void {
  if (!o.qwen3 && o.qkvBias) r.note('attention_bias', `q/k/v have biases and o has none; counted as biases on q, k, v and o (hidden_size = ${hf.hidden_size} parameters per layer too many)`);
  if (o.qwen3) r.note('q_norm', `the per-head RMSNorm of q and k (2 × head_dim = ${2 * o.headDim} parameters per layer) is not counted`);
}

