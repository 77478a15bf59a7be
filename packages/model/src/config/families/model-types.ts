/**
 * The Hugging Face `model_type`s whose config.json moge reads as an architecture for planning
 * (`readHfArch`): parameter and FLOP accounting, memory, the simulators. Only PanguProMoE has a
 * runnable model here; the others are architecture only (no weights are loaded for them).
 */
export const HF_PLANNING_MODEL_TYPES = ['PanguProMoE', 'deepseek_v3', 'deepseek_v2', 'qwen3_moe', 'qwen2_moe', 'mixtral', 'llama', 'qwen2', 'qwen3'] as const;
export type HfPlanningModelType = (typeof HF_PLANNING_MODEL_TYPES)[number];

export function isHfPlanningModelType(type: unknown): type is HfPlanningModelType {
  return typeof type === 'string' && (HF_PLANNING_MODEL_TYPES as readonly string[]).includes(type);
}
