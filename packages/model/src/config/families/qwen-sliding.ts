/**
 * The first layer a Qwen config with `use_sliding_window: true` makes a sliding-window layer, or −1,
 * by the rule transformers 5.18 builds its layer_types with (absent, max_window_layers is 28 and
 * sliding_window 4096; a null sliding_window slides nothing):
 * - qwen2, qwen3: the layers from max_window_layers on (configuration_qwen2.py:88-94, configuration_qwen3.py:91-97);
 * - qwen2_moe: the even layers below max_window_layers (configuration_qwen2_moe.py:112-118);
 * - qwen3_moe: every layer (configuration_qwen3_moe.py:115, modeling_qwen3_moe.py:149).
 * So `use_sliding_window: true` with max_window_layers ≥ num_hidden_layers (qwen2, qwen3) or 0
 * (qwen2_moe) leaves every layer full attention.
 */
export function firstQwenSlidingLayer(
  hf: { num_hidden_layers: number; max_window_layers?: number | undefined; sliding_window?: number | null | undefined },
  modelType: string,
): number {
  if (hf.sliding_window === null) return -1;
  const window = hf.max_window_layers ?? 28;
  const slides = (layer: number): boolean => {
    if (modelType === 'qwen3_moe') return true;
    if (modelType === 'qwen2_moe') return layer % 2 === 0 && layer < window;
    return layer >= window;
  };
  return Array.from({ length: hf.num_hidden_layers }, (_, layer) => layer).find(slides) ?? -1;
}
