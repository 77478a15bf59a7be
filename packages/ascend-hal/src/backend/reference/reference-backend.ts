import type { Backend } from '../backend';
import { createCpuBackend } from '../cpu/cpu-backend';

/**
 * The `reference` backend: every kernel in plain, readable TypeScript over typed arrays, with no
 * dependencies and no Node APIs (it runs in a browser). Storage is float32; sums, norms and
 * softmax accumulate in float64. It is the oracle of the conformance suite, so clarity wins over speed.
 */
export function createReferenceBackend(): Backend {
  return createCpuBackend('reference');
}
