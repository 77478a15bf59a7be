import type { Tensor } from '@moge/ascend-hal';
import { MogeError } from '@moge/core';
import type { ModelWeights } from './model-weights';

/**
 * Weights for inference: the same names, shapes and values, every tensor a backend constant
 * (`Backend.constant`). The onnxruntime backend then runs each matmul against a session that holds
 * the weight as an initializer, pre-packed once, instead of packing it again on every decode step.
 * The constants are copies: drop `w` afterwards to get its memory back. Frozen weights cannot be
 * trained — `modelBackward` refuses them, and every in-place kernel refuses a constant.
 */
export function freezeWeights(w: ModelWeights): ModelWeights {
  const b = w.backend;
  const params = new Map<string, Tensor>();
  for (const [name, t] of w.params) params.set(name, b.constant(t));
  return { arch: w.arch, backend: b, params, ...(w.extraConfig ? { extraConfig: w.extraConfig } : {}) };
}

/** Whether any parameter of `w` is a backend constant (e.g. made by `freezeWeights`). */
export function hasFrozenWeights(w: ModelWeights): boolean {
  for (const t of w.params.values()) if (w.backend.isConstant(t)) return true;
  return false;
}

/** Throws the error `what` gets on frozen weights: they are for inference only. */
export function assertTrainable(w: ModelWeights, what: string): void {
  if (!hasFrozenWeights(w)) return;
  throw new MogeError(
    'E_FROZEN_WEIGHTS',
    `${what}: the weights are frozen (constants made by freezeWeights, for inference) and cannot be trained; ` +
      'compute gradients and optimizer updates on ordinary weights (createModelWeights / initModelWeights / loadModelDir without freezeWeights)',
  );
}
