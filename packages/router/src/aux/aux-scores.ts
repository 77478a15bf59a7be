import type { Backend, Tensor } from '@moge/ascend-hal';
import type { RouterConfig } from '../router/config';

/**
 * What the balance loss averages per expert must be a distribution over the experts for every token:
 * the Σ f_i·p̄_i loss is 1 under uniform routing and grows with imbalance only then. Softmax
 * probabilities already are one. Sigmoid scores are not (E independent values in (0, 1), summing to
 * anything up to E), so the loss on them grew with the scores' size rather than with imbalance, and
 * nothing said so. DeepSeek-V3 normalises them per token first, s'_{t,i} = s_{t,i} / Σ_j s_{t,j}
 * (its sequence-wise balance loss; Megatron-LM does the same for every aux loss under sigmoid
 * scoring), and so do we.
 */
export type AuxScoring = RouterConfig['scoring'];

/**
 * Softmax rows must sum to 1 within this on average: fp32 rounding of E probabilities stays orders
 * below it. It is checked on each segment's total (`checkSoftmaxTotals`), which the loss reads anyway,
 * not row by row: a per-row check cost every MoE layer of every step (a batch-1 decode token included)
 * one more reduction and read. The totals catch what the check is for — scores that are no
 * distribution, such as sigmoid scores, whose rows sum to anything up to E — though rows off in
 * opposite directions within one segment could cancel.
 */
export const SOFTMAX_ROW_SUM_TOLERANCE = 1e-3;

/**
 * Added to a sigmoid row's sum before dividing (as Megatron-LM does): a row whose E scores all
 * underflowed to 0 (every logit below ≈ −103) then contributes zeros instead of 0/0 = NaN, which
 * would stop training as diverged. It leaves the fp32 sum of any row above ~1e-13 unchanged.
 */
const SIGMOID_SUM_GUARD = 1e-20;

/** The per-token scores the loss uses, and how to map ∂aux/∂(those) back to ∂aux/∂(router scores). */
export interface AuxScores {
  /** [T, E] rows summing to 1 (the router's own probabilities under softmax). */
  normalized: Tensor;
  /** ∂aux/∂scores from ∂aux/∂normalized ([T, E]); the identity under softmax. */
  backward(dNormalized: Tensor): Tensor;
}

/**
 * Softmax: the probabilities as they are (so the loss and its gradient keep their exact bits); the
 * caller checks them with `checkSoftmaxTotals`. Sigmoid: each row divided by its sum, with the
 * gradient through that division.
 */
export function auxScores(backend: Backend, probs: Tensor, scoring: AuxScoring): AuxScores {
  if (scoring === 'softmax') return { normalized: probs, backward: (d) => d };
  const tokens = probs.shape[0]!;
  const rowSums = backend.sum(probs, -1);
  const denom = backend.affine(backend.reshape(rowSums, [tokens, 1]), 1, SIGMOID_SUM_GUARD);
  const normalized = backend.binary('div', probs, denom);
  return {
    normalized,
    // s' = s / S: ∂L/∂s_j = (g_j − Σ_i g_i·s'_i) / S, with g = ∂L/∂s'.
    backward(g) {
      const dot = backend.reshape(backend.sum(backend.binary('mul', g, normalized), -1), [tokens, 1]);
      return backend.binary('div', backend.binary('sub', g, dot), denom);
    },
  };
}

/**
 * Refuses softmax probabilities whose rows do not sum to 1 (on average over each segment, see
 * SOFTMAX_ROW_SUM_TOLERANCE): a loss on them is no balance loss. `probSums` holds each segment's
 * per-expert sums ([G, E]), `offsets` its token ranges. A NaN total passes: a diverged router's NaN
 * must reach the loss, where the trainer stops with E_DIVERGED.
 */
export function checkSoftmaxTotals(probSums: ArrayLike<number>, e: number, offsets: readonly number[]): void {
  for (let g = 0; g + 1 < offsets.length; g++) {
    const tokens = offsets[g + 1]! - offsets[g]!;
    let total = 0;
    for (let i = 0; i < e; i++) total += probSums[g * e + i]!;
    if (Math.abs(total - tokens) > SOFTMAX_ROW_SUM_TOLERANCE * tokens) {
      throw new RangeError(
        `aux loss probs, tokens ${offsets[g]}..${offsets[g + 1]! - 1}: rows sum to ${Number((total / tokens).toPrecision(4))} on average, expected 1 within ${SOFTMAX_ROW_SUM_TOLERANCE} ` +
          `(softmax probabilities over the ${e} experts); for sigmoid scores pass { scoring: 'sigmoid' } (e.g. the router's config), ` +
          `which normalises each token's scores to sum to 1 as DeepSeek-V3 does`,
      );
    }
  }
}
