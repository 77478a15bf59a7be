import type { Backend, Tensor } from '@moge/ascend-hal';

/**
 * From selected scores to combine weights: `gate = renormalize ? v / Σ_k v_k : v`, then
 * `weight = gate · router_scale[id]`. For MoGE `renormalize` is off, so weight = p·scale and the K
 * weights sum to less than 1 (the paper's rule).
 */

/** Host gate values for one [T, K] block of selected scores. */
export function renormalizeRows(values: ArrayLike<number>, tokens: number, k: number): Float32Array {
  const out = new Float32Array(tokens * k);
  for (let t = 0; t < tokens; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += values[t * k + j]!;
    // A row of all-zero scores (sigmoid underflow) keeps zero gates instead of NaN; a NaN score (a
    // diverged router, selected: NaN ranks first) makes every gate of its row NaN, as v / Σv does.
    const inv = sum > 0 ? 1 / sum : Number.isNaN(sum) ? Number.NaN : 0;
    for (let j = 0; j < k; j++) out[t * k + j] = values[t * k + j]! * inv;
  }
  return out;
}

/** router_scale [E] gathered at host ids [T·K] → [T, K] on the backend. */
export function gatherScale(backend: Backend, routerScale: Tensor, idsHost: Int32Array, tokens: number, k: number): Tensor {
  const table = backend.reshape(routerScale, [routerScale.size, 1]);
  return backend.reshape(backend.gatherRows(table, idsHost), [tokens, k]);
}

export interface GateForward {
  gates: Tensor;
  weights: Tensor;
}

export function gateForward(backend: Backend, selectedScores: Tensor, selectedScale: Tensor, renormalize: boolean): GateForward {
  const [tokens, k] = selectedScores.shape as [number, number];
  const gates = renormalize
    ? backend.fromArray(renormalizeRows(backend.read(selectedScores), tokens, k), [tokens, k])
    : selectedScores;
  return { gates, weights: backend.binary('mul', gates, selectedScale) };
}

export interface GateGrads {
  /** [T, K] d loss / d selected scores (before renormalisation). */
  dSelected: Tensor;
  /** [T, K] d loss / d router_scale[id] per selection (to be scattered onto the experts). */
  dSelectedScale: Tensor;
}

/**
 * Backward of `weight = gate · s`, `gate = v / S` (S = Σ v):
 * d s = dW · gate; d gate = dW · s; d v_j = (d gate_j − Σ_k d gate_k · gate_k) / S when renormalised.
 */
export function gateBackward(
  backend: Backend,
  selectedScores: Tensor,
  selectedScale: Tensor,
  dWeights: Tensor,
  renormalize: boolean,
): GateGrads {
  const [tokens, k] = selectedScores.shape as [number, number];
  if (!renormalize) {
    return {
      dSelected: backend.binary('mul', dWeights, selectedScale),
      dSelectedScale: backend.binary('mul', dWeights, selectedScores),
    };
  }
  // [T, K] bookkeeping on the host: the row sums do not broadcast with the backend's suffix rule.
  const v = backend.read(selectedScores);
  const gates = renormalizeRows(v, tokens, k);
  const dGate = backend.read(backend.binary('mul', dWeights, selectedScale));
  const dV = new Float32Array(tokens * k);
  for (let t = 0; t < tokens; t++) {
    let sum = 0;
    let dot = 0;
    for (let j = 0; j < k; j++) {
      sum += v[t * k + j]!;
      dot += dGate[t * k + j]! * gates[t * k + j]!;
    }
    const inv = sum > 0 ? 1 / sum : Number.isNaN(sum) ? Number.NaN : 0;
    for (let j = 0; j < k; j++) dV[t * k + j] = (dGate[t * k + j]! - dot) * inv;
  }
  return {
    dSelected: backend.fromArray(dV, [tokens, k]),
    dSelectedScale: backend.binary('mul', dWeights, backend.fromArray(gates, [tokens, k])),
  };
}
