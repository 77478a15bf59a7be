import { ValidationError } from '@moge/core';

/** HF's RoPE base when a config does not give one (llama, qwen2, qwen3, deepseek, PanguProMoE). */
export const DEFAULT_ROPE_THETA = 10000;

/**
 * θ of RoPE: `rope_theta`, or where transformers v5 writes it, `rope_parameters.rope_theta`. Reading
 * only the first would run a v5 config at the default — shapes fine, every position wrong.
 */
export function ropeThetaOf(
  hf: { rope_theta?: number | undefined; rope_parameters?: { rope_theta?: number | undefined } | null | undefined },
  subject: string,
  fallback = DEFAULT_ROPE_THETA,
): number {
  const nested = hf.rope_parameters?.rope_theta;
  if (hf.rope_theta !== undefined && nested !== undefined && hf.rope_theta !== nested) {
    throw new ValidationError(subject, [
      { path: 'rope_parameters.rope_theta', received: nested, expected: `rope_theta's value (${hf.rope_theta}): the two disagree; keep one of them` },
    ]);
  }
  return hf.rope_theta ?? nested ?? fallback;
}
