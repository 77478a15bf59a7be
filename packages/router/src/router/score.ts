import type { Backend, Tensor } from '@moge/ascend-hal';
import type { RouterConfig } from './config';

/** Router scores from logits [T, E]: softmax over all experts (fp32, max-subtracted) or sigmoid per expert. */
export function scoreForward(backend: Backend, logits: Tensor, scoring: RouterConfig['scoring']): Tensor {
  return scoring === 'softmax' ? backend.softmax(logits) : backend.unary('sigmoid', logits);
}

/** d logits from d scores, using only the saved scores (both score functions' Jacobians need nothing else). */
export function scoreBackward(backend: Backend, scores: Tensor, dScores: Tensor, scoring: RouterConfig['scoring']): Tensor {
  if (scoring === 'softmax') return backend.softmaxBackward(scores, dScores);
  // σ'(z) = σ(z)·(1 − σ(z))
  const oneMinus = backend.affine(scores, -1, 1);
  return backend.binary('mul', backend.binary('mul', dScores, scores), oneMinus);
}
