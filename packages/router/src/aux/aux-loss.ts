import type { Backend, Tensor } from '@moge/ascend-hal';
import { countExperts } from '../metrics/balance';
import { auxScores, checkSoftmaxTotals, type AuxScoring } from './aux-scores';

/**
 * Load-balancing auxiliary losses on the router's probabilities, with their gradient.
 *
 * Batch level (Pangu Pro MoE, on the global softmax over all E experts):
 *   aux = Σ_i f_i · p̄_i,  f_i = E / (K·T) · count_i,  p̄_i = (1/T) Σ_t p_{t,i}.
 * `count_i` (token→expert assignments) comes from a discrete top-k and is treated as a constant, so
 *   ∂aux/∂p_{t,i} = f_i / T.
 *
 * Per EP group (Pangu Ultra MoE): the tokens of a step are split into G contiguous segments, one per
 * EP group (the tokens of the devices that exchange experts in one all-to-all). The same loss is
 * computed inside every segment with its own T_g, counts and means, and the G losses are averaged:
 *   aux = (1/G) Σ_g Σ_i f_{g,i} · p̄_{g,i},  f_{g,i} = E/(K·T_g)·count_{g,i},  p̄_{g,i} = (1/T_g) Σ_{t∈g} p_{t,i},
 *   ∂aux/∂p_{t,i} = f_{g(t),i} / (G · T_{g(t)}).
 * With G = 1 it is the batch-level loss. Segments balance experts inside the group that actually
 * shares the load, instead of letting one group's surplus hide another's deficit.
 *
 * p_{t,i} are softmax probabilities by default, checked to sum to 1 per token on average over each
 * segment. With
 * `{ scoring: 'sigmoid' }` (pass the router's config) they are sigmoid scores, first normalised per
 * token as DeepSeek-V3's balance loss does, p_{t,i} = s_{t,i} / Σ_j s_{t,j}; `dProbs` is then the
 * gradient w.r.t. the raw scores s, through that normalisation.
 *
 * The loss is unscaled: the training loss adds α·aux per layer, and the caller scales `dProbs` by α
 * before passing it to `Router.backward`, which maps it through the score function's Jacobian to the logits.
 */
export interface AuxLossOptions {
  /** The router's score function: 'softmax' (default) or 'sigmoid'. A `RouterConfig` fits here. */
  scoring?: AuxScoring;
}

export interface AuxLossResult {
  /** The loss (mean over segments), float64. */
  loss: number;
  /** [T, E] ∂aux/∂probs on the backend (w.r.t. the scores as given, also under sigmoid scoring). */
  dProbs: Tensor;
  /** Loss of every segment (one entry for the batch-level loss). */
  segmentLosses: number[];
  /** Assignments per expert over all T tokens, [E]. */
  expertCounts: Float64Array;
}

/** Segment offsets for `groups` contiguous segments of `tokens` as equal as whole tokens allow (sizes differ by at most one: 10 over 4 gives 3, 2, 3, 2). */
export function equalTokenSegments(tokens: number, groups: number): number[] {
  // A fractional token count would give offsets past T (5.5 over 2 gave [0, 3, 6]).
  if (!Number.isInteger(tokens) || tokens < 1) throw new RangeError(`EP group tokens: got ${tokens}, expected a positive integer`);
  if (!Number.isInteger(groups) || groups < 1 || groups > tokens) {
    throw new RangeError(`EP groups: got ${groups}, expected an integer in [1, tokens=${tokens}]`);
  }
  const offsets = [0];
  for (let g = 1; g <= groups; g++) offsets.push(Math.round((g * tokens) / groups));
  return offsets;
}

/** Pangu Pro's batch-level aux loss over all T tokens. */
export function batchAuxLoss(
  backend: Backend,
  probs: Tensor,
  expertIds: ArrayLike<number>,
  topK: number,
  options: AuxLossOptions = {},
): AuxLossResult {
  return segmentedAuxLoss(backend, probs, expertIds, topK, [0, probs.shape[0]!], options);
}

/**
 * Pangu Ultra's per-EP-group aux loss. `segmentOffsets` has G+1 increasing entries from 0 to T:
 * tokens [offsets[g], offsets[g+1]) belong to EP group g (see `equalTokenSegments`).
 */
export function segmentedAuxLoss(
  backend: Backend,
  probs: Tensor,
  expertIds: ArrayLike<number>,
  topK: number,
  segmentOffsets: readonly number[],
  options: AuxLossOptions = {},
): AuxLossResult {
  const scoring = options.scoring ?? 'softmax';
  if (scoring !== 'softmax' && scoring !== 'sigmoid') {
    throw new RangeError(`aux loss scoring: got ${JSON.stringify(scoring)}, expected 'softmax' or 'sigmoid' (the router's config.scoring)`);
  }
  if (probs.shape.length !== 2) throw new RangeError(`aux loss probs: got [${probs.shape.join(', ')}], expected [T, E]`);
  const [tokens, e] = probs.shape as [number, number];
  // Both divide the loss (f = E/(K·T)·count): K = 0 gave NaN, T = 0 an error about "segment 0".
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`aux loss topK: got ${topK}, expected a positive integer`);
  if (tokens === 0) throw new RangeError('aux loss probs: got 0 tokens, expected at least one (the loss is a mean over tokens)');
  if (expertIds.length !== tokens * topK) {
    throw new RangeError(`aux loss expert ids: got ${expertIds.length}, expected T·K = ${tokens * topK}`);
  }
  const groups = segmentOffsets.length - 1;
  if (groups < 1 || segmentOffsets[0] !== 0 || segmentOffsets[groups] !== tokens) {
    throw new RangeError(`aux loss segment offsets: got [${segmentOffsets.join(', ')}], expected 0 = o[0] < … < o[G] = T = ${tokens}`);
  }
  const segmentOf = new Int32Array(tokens);
  for (let g = 0; g < groups; g++) {
    const [lo, hi] = [segmentOffsets[g]!, segmentOffsets[g + 1]!];
    // Offsets index tokens: a fractional one was truncated by fill() while T_g kept the fraction,
    // so the loss and its gradient were silently wrong.
    if (!Number.isInteger(hi)) throw new RangeError(`aux loss segment offsets: offset ${g + 1} is ${hi}, expected an integer token index`);
    if (!(hi > lo)) throw new RangeError(`aux loss segment ${g}: offsets ${lo}..${hi}, expected a non-empty segment`);
    segmentOf.fill(g, lo, hi);
  }

  // countExperts first: it refuses an id outside [0, E), which would land in a neighbouring segment's row.
  const expertCounts = countExperts(expertIds, e);
  const counts = new Float64Array(groups * e);
  for (let t = 0; t < tokens; t++) {
    const row = segmentOf[t]! * e;
    for (let j = 0; j < topK; j++) counts[row + expertIds[t * topK + j]!]! += 1;
  }

  const scores = auxScores(backend, probs, scoring);
  // Σ_t p_{t,i} per segment on the backend: scatter-add the [T, E] rows onto G rows.
  const sums = backend.zeros([groups, e]);
  backend.scatterAddRows(sums, segmentOf, scores.normalized);
  const probSums = backend.read(sums);
  if (scoring === 'softmax') checkSoftmaxTotals(probSums, e, segmentOffsets);

  const segmentLosses: number[] = [];
  const grad = new Float32Array(groups * e); // ∂aux/∂p for a token of segment g, row g
  for (let g = 0; g < groups; g++) {
    const tg = segmentOffsets[g + 1]! - segmentOffsets[g]!;
    const fScale = e / (topK * tg);
    let loss = 0;
    for (let i = 0; i < e; i++) {
      const f = fScale * counts[g * e + i]!;
      loss += f * (probSums[g * e + i]! / tg);
      grad[g * e + i] = f / (groups * tg);
    }
    segmentLosses.push(loss);
  }
  const loss = segmentLosses.reduce((a, b) => a + b, 0) / groups;
  const dProbs = scores.backward(backend.gatherRows(backend.fromArray(grad, [groups, e]), segmentOf));
  return { loss, dProbs, segmentLosses, expertCounts };
}
