import { MoeArchSchema, ValidationError, parseWith, type MoeArch, type MoeArchInput } from '@moge/core';
import { archFromHfConfig } from '../hf-config';
import { Reading } from './common';
import { readDeepseek } from './deepseek';
import { readDense } from './dense';
import { readMixtral } from './mixtral';
import { HF_PLANNING_MODEL_TYPES, isHfPlanningModelType, type HfPlanningModelType } from './model-types';
import { readQwenMoe } from './qwen-moe';

/** An HF config.json read as an architecture for planning. */
export interface HfArchReading {
  arch: MoeArch;
  modelType: HfPlanningModelType;
  /**
   * What the config states that MoeArch cannot, and that barely changes planning (sigmoid scoring,
   * renormalised top-k, a bias counted on o too, …): one line each, for the reader to see.
   */
  notes: string[];
}

const READERS: Record<Exclude<HfPlanningModelType, 'PanguProMoE'>, (json: unknown, r: Reading) => MoeArchInput> = {
  deepseek_v3: readDeepseek,
  deepseek_v2: readDeepseek,
  qwen3_moe: readQwenMoe,
  qwen2_moe: readQwenMoe,
  mixtral: readMixtral,
  llama: readDense,
  qwen2: readDense,
  qwen3: readDense,
};

/**
 * Reads the architecture of an HF `config.json` (already JSON-decoded) of any family in
 * `HF_PLANNING_MODEL_TYPES`, for accounting, memory and simulation. Architecture only: weights of
 * families other than PanguProMoE cannot be loaded or run (`archFromHfConfig`, which `loadModelDir`
 * uses, refuses them). PanguProMoE configs are read exactly as `archFromHfConfig` reads them.
 */
export function readHfArch(json: unknown, subject = 'HF config.json'): HfArchReading {
  const type = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).model_type : undefined;
  if (!isHfPlanningModelType(type)) {
    throw new ValidationError(subject, [
      { path: 'model_type', received: type, expected: `one of ${HF_PLANNING_MODEL_TYPES.map((t) => `"${t}"`).join(', ')} (the Hugging Face families moge reads); describe another model as a MoeArch JSON/YAML file` },
    ]);
  }
  if (type === 'PanguProMoE') return { arch: archFromHfConfig(json, subject), modelType: type, notes: [] };
  const reading = new Reading(subject, type);
  // Named for the tables and messages of the planners ("custom" otherwise): the repository id a
  // saved config records, else the family.
  const recorded = (json as Record<string, unknown>)._name_or_path;
  const name = typeof recorded === 'string' && recorded.trim() !== '' ? recorded : type;
  const arch = { name, ...READERS[type](json, reading) };
  // Cross-field rules (topK ≤ numExperts, kv heads dividing heads, …) live in MoeArchSchema.
  return {
    arch: parseWith(MoeArchSchema, arch, subject, `read as a ${type} config; fields are named as in MoeArch (numKvHeads = num_key_value_heads, topK = num_experts_per_tok, numExpertGroups = n_group, routerTopGroups = topk_group)`),
    modelType: type,
    notes: reading.notes,
  };
}
