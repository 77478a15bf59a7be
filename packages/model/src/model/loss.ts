import type { Backend, Tensor } from '@moge/ascend-hal';
import { IGNORE_LABEL } from './batch';

/**
 * Mean cross-entropy over the labelled positions: CE = −(1/N) Σ_t log softmax(logits_t)[label_t].
 * Its gradient is (softmax − onehot)/N on labelled rows and 0 elsewhere.
 */
export interface CrossEntropy {
  loss: number;
  /** Labelled positions N. */
  count: number;
  /** [T, V] ∂CE/∂logits; present when asked for (`withGrad`). */
  dLogits?: Tensor;
}

/**
 * One exponential pass over the [N, V] logits serves both the loss and the gradient: the loss takes
 * log p_y from the softmax the gradient needs anyway (float32 p_y has a relative error ~6e-8, so
 * log p_y is good to ~1e-7 absolute). Only where p_y is too small for float32 to hold precisely
 * (a rare, hopeless prediction) is log p_y recomputed from that row's logits on the host, in float64.
 */
const SMALLEST_PRECISE_PROB = 1e-30;

export function crossEntropy(b: Backend, logits: Tensor, labels: Int32Array, withGrad: boolean): CrossEntropy {
  const [t, v] = logits.shape as [number, number];
  const rows: number[] = [];
  const ignored: number[] = [];
  for (let i = 0; i < t; i++) {
    const y = labels[i]!;
    if (y === IGNORE_LABEL) {
      ignored.push(i);
      continue;
    }
    if (!(y >= 0 && y < v)) throw new RangeError(`labels[${i}]: got ${y}, expected −1 or a token id in [0, ${v})`);
    rows.push(i);
  }
  const n = rows.length;
  // No labelled position: loss 0 with a zero gradient, where PyTorch's mean over nothing gives NaN.
  // A batch of padding then leaves the weights as they are instead of poisoning them (and the
  // trainer's NaN guard), and `count: 0` tells a caller averaging over batches to give it no weight.
  if (n === 0) return { loss: 0, count: 0, dLogits: withGrad ? b.zeros([t, v]) : undefined };
  const labelIndex = Int32Array.from(rows, (r) => r * v + labels[r]!);

  // Softmax over every row, ignored ones too: they are usually a few (the last position of each
  // sequence), and this spares a gather of the labelled rows and a scatter back.
  const p = b.softmax(logits);
  const py = b.read(b.gatherRows(b.reshape(p, [t * v, 1]), labelIndex));
  let logLikelihood = 0;
  let host: ArrayLike<number> | undefined;
  for (let i = 0; i < n; i++) {
    if (py[i]! >= SMALLEST_PRECISE_PROB) {
      logLikelihood += Math.log(py[i]!);
      continue;
    }
    host ??= b.read(logits);
    const row = rows[i]! * v;
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, host[row + j]!);
    let total = 0;
    for (let j = 0; j < v; j++) total += Math.exp(host[row + j]! - m);
    logLikelihood += host[labelIndex[i]!]! - m - Math.log(total);
  }
  const loss = -logLikelihood / n;
  if (!withGrad) return { loss, count: n };

  const dLogits = b.affine(p, 1 / n);
  b.scatterAddRows(b.reshape(dLogits, [t * v, 1]), labelIndex, b.full([n, 1], -1 / n));
  if (ignored.length > 0) {
    // Ignored rows get no gradient: adding each row's negation zeroes it exactly.
    const idx = Int32Array.from(ignored);
    b.scatterAddRows(dLogits, idx, b.affine(b.gatherRows(dLogits, idx), -1));
  }
  return { loss, count: n, dLogits };
}
