import { z } from 'zod';
import { MoeArchSchema, ValidationError, parseWith, type MoeArch } from '@moge/core';
import { HF_MATH_FIELDS } from './hf-math-fields';
import { isHfPlanningModelType } from './families/model-types';
import { ropeThetaOf } from './rope-theta';

/** `model_type` of the Pangu Pro MoE family in HF `config.json`. */
export const HF_MODEL_TYPE = 'PanguProMoE';
export const HF_ARCHITECTURE = 'PanguProMoEForCausalLM';

const positiveInt = z.number().int().positive();

/**
 * The fields of an HF `config.json` that define a PanguProMoE model. Unknown keys (torch_dtype,
 * transformers_version, auto_map, ...) are kept by `.loose()` so a round trip does not drop them;
 * known fields that would change the math are refused unless harmless (`HF_MATH_FIELDS`).
 */
export const HfPanguConfigSchema = z
  .object({
    model_type: z.literal(HF_MODEL_TYPE),
    architectures: z.array(z.string()).optional(),
    vocab_size: positiveInt,
    hidden_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt,
    /** Not in the released config (it is hidden_size / heads there); accepted when present. */
    head_dim: positiveInt.optional(),
    max_position_embeddings: positiveInt.default(4096),
    rms_norm_eps: z.number().positive().default(1e-5),
    /** Optional only to tell "absent" from a value: absent is 10000, or rope_parameters.rope_theta. */
    rope_theta: z.number().positive().optional(),
    tie_word_embeddings: z.boolean().default(false),
    moe_intermediate_size: positiveInt,
    shared_expert_intermediate_size: z.number().int().nonnegative().default(0),
    num_experts: positiveInt,
    num_experts_per_tok: positiveInt,
    router_aux_loss_coef: z.number().nonnegative().default(0.01),
    /** Our extension: the MoGE group count M. The released 72B model uses 8. */
    num_expert_groups: positiveInt.default(8),
    /** Pangu Pro has q/k/v/o biases; a config may say otherwise. */
    attention_bias: z.boolean().default(true),
    ...HF_MATH_FIELDS,
  })
  .loose();
export type HfPanguConfig = z.output<typeof HfPanguConfigSchema>;

/** True when `json` looks like an HF config (as opposed to a MoeArch file). */
export function looksLikeHfConfig(json: unknown): boolean {
  return typeof json === 'object' && json !== null && ('model_type' in json || 'hidden_size' in json);
}

/**
 * Parses an HF `config.json` (already JSON-decoded) of a PanguProMoE model into a validated MoeArch:
 * the model moge can load and run. Other families are refused here — `readHfArch` reads their
 * architecture for planning, but their weights cannot be loaded.
 */
export function archFromHfConfig(json: unknown, subject = 'HF config.json'): MoeArch {
  refuseOtherFamily(json, subject);
  const hf = parseWith(HfPanguConfigSchema, json, subject);
  if (hf.head_dim === undefined && hf.hidden_size % hf.num_attention_heads !== 0) {
    throw new ValidationError(subject, [
      { path: 'hidden_size', received: hf.hidden_size, expected: `a multiple of num_attention_heads (${hf.num_attention_heads}) when head_dim is absent` },
    ]);
  }
  const ropeTheta = ropeThetaOf(hf, subject);
  const arch = {
    numLayers: hf.num_hidden_layers,
    hiddenSize: hf.hidden_size,
    numHeads: hf.num_attention_heads,
    numKvHeads: hf.num_key_value_heads,
    headDim: hf.head_dim ?? hf.hidden_size / hf.num_attention_heads,
    vocabSize: hf.vocab_size,
    denseFfnSize: 0,
    numExperts: hf.num_experts,
    numExpertGroups: hf.num_expert_groups,
    topK: hf.num_experts_per_tok,
    expertFfnSize: hf.moe_intermediate_size,
    sharedExpertFfnSize: hf.shared_expert_intermediate_size,
    router: 'moge' as const,
    routerAuxLossCoef: hf.router_aux_loss_coef,
    attention: 'gqa' as const,
    attentionBias: hf.attention_bias,
    ropeTheta,
    normEps: hf.rms_norm_eps,
    tiedEmbeddings: hf.tie_word_embeddings,
    maxPositionEmbeddings: hf.max_position_embeddings,
  };
  // Cross-field rules (topK a multiple of the groups, ...) live in MoeArchSchema; name the HF fields.
  return parseWith(MoeArchSchema, arch, subject, 'fields are named as in MoeArch: topK = num_experts_per_tok, numExpertGroups = num_expert_groups, numKvHeads = num_key_value_heads');
}

/**
 * A config of a family moge reads for planning only, named as such: the schema's answer would be
 * "model_type: expected PanguProMoE" followed by every Pangu field the family names differently.
 */
function refuseOtherFamily(json: unknown, subject: string): void {
  const type = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).model_type : undefined;
  if (type === HF_MODEL_TYPE || !isHfPlanningModelType(type)) return;
  throw new ValidationError(subject, [
    {
      path: 'model_type',
      received: type,
      expected: `"${HF_MODEL_TYPE}": moge reads the architecture of a ${type} config for planning (moge model info, sim, mem) but cannot load or run ${type} weights; the runnable model is Pangu Pro MoE only`,
    },
  ]);
}

/**
 * The keys of `config.json` that MoeArch determines: `hfConfigFromArch` always writes them from the
 * arch, so they are never extra config. Not among them: `architectures` (it names the modeling class,
 * which MoeArch does not model: a config's own value is kept) and `head_dim` (written only when it is
 * not hidden_size / heads, so an extra `head_dim` key is kept as a key, with the arch's value).
 */
export const HF_ARCH_KEYS = [
  'model_type',
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'hidden_act',
  'max_position_embeddings',
  'rms_norm_eps',
  'rope_theta',
  'tie_word_embeddings',
  'moe_intermediate_size',
  'shared_expert_intermediate_size',
  'num_experts',
  'num_experts_per_tok',
  'router_aux_loss_coef',
  'num_expert_groups',
  'attention_bias',
] as const;
const ARCH_KEY_SET: ReadonlySet<string> = new Set(HF_ARCH_KEYS);

/**
 * The keys of an HF `config.json` beyond what MoeArch models — `architectures`, `torch_dtype`,
 * `auto_map`, `transformers_version`, token ids, `rope_parameters`, keys unknown to us — as JSON
 * values. A model keeps them (`ModelWeights.extraConfig`) so that a load → save round trip writes
 * them back, as Hugging Face's `save_pretrained` does.
 */
export const HfExtraConfigSchema = z.record(z.string(), z.json());
export type HfExtraConfig = z.output<typeof HfExtraConfigSchema>;

/**
 * An HF `config.json` (already JSON-decoded) as the MoeArch it defines plus the keys it carries
 * beyond the arch (every key but `HF_ARCH_KEYS`), both validated.
 */
export function splitHfConfig(json: unknown, subject = 'HF config.json'): { arch: MoeArch; extraConfig: HfExtraConfig } {
  const arch = archFromHfConfig(json, subject);
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) if (!ARCH_KEY_SET.has(key)) extra[key] = value;
  return { arch, extraConfig: parseWith(HfExtraConfigSchema, extra, subject) };
}

/**
 * The HF `config.json` for `arch`. Only what PanguProMoE can express: GQA attention, every layer MoE,
 * MoGE routing (plain top-k is MoGE with one group), no MTP.
 *
 * `extraConfig` (e.g. what `splitHfConfig` / `loadModelDir` read) is written too, and the arch wins
 * wherever the two meet: `HF_ARCH_KEYS` in `extraConfig` are replaced, an extra `head_dim` gets the
 * arch's value, and so does `rope_parameters.rope_theta` (where transformers v5 keeps θ). Extra keys that would change the math
 * (`rope_scaling`, `attention_dropout`, …: `HF_MATH_FIELDS`) are refused as on load, naming the key.
 */
export function hfConfigFromArch(arch: MoeArch, extraConfig: HfExtraConfig = {}): HfPanguConfig {
  const extra = parseWith(HfExtraConfigSchema, extraConfig, 'extraConfig (config.json keys beyond the arch)', 'give JSON values (strings, numbers, booleans, null, arrays, objects)');
  const config = hfConfigOfArch(arch);
  if (Object.keys(extra).length === 0) return config;
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extra)) if (!ARCH_KEY_SET.has(key)) merged[key] = value;
  if ('head_dim' in extra) config.head_dim = arch.headDim;
  const rope = merged.rope_parameters;
  if (typeof rope === 'object' && rope !== null && !Array.isArray(rope) && 'rope_theta' in rope) merged.rope_parameters = { ...rope, rope_theta: arch.ropeTheta };
  const out = { ...merged, ...config, ...(Array.isArray(merged.architectures) ? { architectures: merged.architectures } : {}) } as HfPanguConfig;
  // What the extra keys may not do — change the math — is what loading refuses: check the result the same way.
  const subject = `config.json of arch${arch.name ? ` "${arch.name}"` : ''} with extraConfig`;
  const back = archFromHfConfig(out, subject);
  const written = archFromHfConfig(config, subject);
  for (const key of Object.keys(written) as (keyof MoeArch)[]) {
    if (JSON.stringify(back[key]) !== JSON.stringify(written[key])) {
      throw new ValidationError(subject, [{ path: String(key), received: back[key], expected: `${JSON.stringify(written[key])} (the arch's value): an extraConfig key changes it; remove that key from extraConfig` }]);
    }
  }
  return out;
}

function hfConfigOfArch(arch: MoeArch): HfPanguConfig {
  const issues: { path: string; received: unknown; expected: string }[] = [];
  if (arch.attention !== 'gqa') issues.push({ path: 'attention', received: arch.attention, expected: '"gqa" (PanguProMoE has no MLA)' });
  if (arch.numExperts === 0) issues.push({ path: 'numExperts', received: 0, expected: 'a MoE model (numExperts > 0)' });
  if (arch.numDenseLayers !== 0) issues.push({ path: 'numDenseLayers', received: arch.numDenseLayers, expected: '0 (every PanguProMoE layer is MoE)' });
  if (arch.router !== 'moge' && arch.numExpertGroups !== 1) {
    issues.push({ path: 'router', received: arch.router, expected: '"moge", or one expert group (plain top-k)' });
  }
  if (arch.mtpDepth !== 0) issues.push({ path: 'mtpDepth', received: arch.mtpDepth, expected: '0 (MTP layers are not part of PanguProMoE config.json)' });
  if (!arch.routerExpertVector) issues.push({ path: 'routerExpertVector', received: false, expected: 'true (every PanguProMoE router has router_scale)' });
  if (issues.length > 0) throw new ValidationError(`arch${arch.name ? ` "${arch.name}"` : ''} as PanguProMoE config.json`, issues);
  const config: HfPanguConfig = {
    model_type: HF_MODEL_TYPE,
    architectures: [HF_ARCHITECTURE],
    vocab_size: arch.vocabSize,
    hidden_size: arch.hiddenSize,
    num_hidden_layers: arch.numLayers,
    num_attention_heads: arch.numHeads,
    num_key_value_heads: arch.numKvHeads,
    hidden_act: 'silu',
    max_position_embeddings: arch.maxPositionEmbeddings,
    rms_norm_eps: arch.normEps,
    rope_theta: arch.ropeTheta,
    tie_word_embeddings: arch.tiedEmbeddings,
    moe_intermediate_size: arch.expertFfnSize,
    shared_expert_intermediate_size: arch.sharedExpertFfnSize,
    num_experts: arch.numExperts,
    num_experts_per_tok: arch.topK,
    router_aux_loss_coef: arch.routerAuxLossCoef,
    num_expert_groups: arch.numExpertGroups,
    attention_bias: arch.attentionBias,
  };
  if (arch.headDim * arch.numHeads !== arch.hiddenSize) config.head_dim = arch.headDim;
  return config;
}
