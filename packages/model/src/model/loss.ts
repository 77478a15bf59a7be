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
  /** [T, V] ∂CE/∂logits. */
  dLogits: Tensor;
}

export function crossEntropy(b: Backend, logits: Tensor, labels: Int32Array, withGrad: boolean): CrossEntropy {
  const [t, v] = logits.shape as [number, number];
  const rows: number[] = [];
  for (let i = 0; i < t; i++) {
    const y = labels[i]!;
    if (y === IGNORE_LABEL) continue;
    if (!(y >= 0 && y < v)) throw new RangeError(`labels[${i}]: got ${y}, expected −1 or a token id in [0, ${v})`);
    rows.push(i);
  }
  const n = rows.length;
  if (n === 0) return { loss: 0, count: 0, dLogits: b.zeros([t, v]) };
  const rowIndex = Int32Array.from(rows);
  const labelIndex = Int32Array.from(rows, (r, i) => i * v + labels[r]!);

  const logProbs = b.logSoftmax(b.gatherRows(logits, rowIndex)); // [N, V]
  const picked = b.gatherRows(b.reshape(logProbs, [n * v, 1]), labelIndex);
  const loss = -b.sumAll(picked) / n;
  const dLogits = b.zeros([t, v]);
  if (withGrad) {
    const d = b.affine(b.unary('exp', logProbs), 1 / n);
    b.scatterAddRows(b.reshape(d, [n * v, 1]), labelIndex, b.full([n, 1], -1 / n));
    b.scatterAddRows(dLogits, rowIndex, d);
  }
  return { loss, count: n, dLogits };
}
