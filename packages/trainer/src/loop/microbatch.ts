import { jsVectorMath, type VectorMath } from '@moge/ascend-hal';
import { modelBackward, modelForward, releaseGrads, releaseLogits, type ExpertRunner, type ModelWeights } from '@moge/model';
import { imbalanceScore } from '@moge/router';
import type { FlatLayout } from './flat-params';

/** What one micro-batch contributes to a step's metrics. */
export interface MicrobatchStats {
  crossEntropy: number;
  auxUnscaled: number;
  /** Per layer IS of this micro-batch over the EP devices. */
  imbalance: number[];
  /** Per layer, per expert assignment counts. */
  counts: Int32Array[];
}

/** Splits [n, seqLen + 1] windows into model inputs (first seqLen) and next-token labels (last seqLen). */
export function windowsToBatch(windows: Int32Array, n: number, seqLen: number) {
  const ids = new Int32Array(n * seqLen);
  const labels = new Int32Array(n * seqLen);
  for (let s = 0; s < n; s++) {
    const w = windows.subarray(s * (seqLen + 1), (s + 1) * (seqLen + 1));
    ids.set(w.subarray(0, seqLen), s * seqLen);
    labels.set(w.subarray(1), s * seqLen);
  }
  return { ids, labels, batch: n, seqLen };
}

/** Device loads T_d and Imbalance Score of one layer's expert counts. */
export function layerImbalance(counts: ArrayLike<number>, deviceOf: Int32Array, numDevices: number, tokens: number): number {
  const loads = new Float64Array(numDevices);
  for (let e = 0; e < counts.length; e++) loads[deviceOf[e]!]! += counts[e]!;
  return imbalanceScore(loads, tokens);
}

/**
 * Forward + backward of one micro-batch; its gradients, times `scale`, are added into `gradAccum`
 * (flat, parameter order) by `math.axpy`. Scaling by 1/(micro-batches per step) makes the step's
 * gradient the gradient of the mean loss over the whole global batch.
 */
export function runMicrobatch(
  weights: ModelWeights,
  layout: FlatLayout,
  windows: Int32Array,
  n: number,
  seqLen: number,
  auxAlpha: number,
  scale: number,
  gradAccum: Float32Array,
  deviceOf: Int32Array,
  numDevices: number,
  /** Expert-parallel runner: it accumulates its experts' gradients itself, so backward returns none for them. */
  experts?: ExpertRunner,
  math: VectorMath = jsVectorMath,
): MicrobatchStats {
  const fwd = modelForward(weights, windowsToBatch(windows, n, seqLen), { auxAlpha, experts });
  const grads = modelBackward(weights, fwd);
  // Only the loss and routing are read from here on: the logits' buffer goes back for the next micro-batch.
  releaseLogits(weights, fwd);
  const b = weights.backend;
  for (const slot of layout.slots) {
    const g = grads.get(slot.name);
    if (!g && experts) continue;
    if (!g) throw new RangeError(`backward returned no gradient for ${slot.name}`);
    const host = b.read(g);
    if (!(host instanceof Float32Array) || host.length !== slot.size) {
      throw new RangeError(`gradient of ${slot.name}: ${host.length} ${host instanceof Float32Array ? 'f32' : 'i32'} elements, expected ${slot.size} f32`);
    }
    math.axpy(gradAccum.subarray(slot.offset, slot.offset + slot.size), host, scale);
  }
  // Added in: the next micro-batch's backward reuses their buffers (modelBackward's releaseGrads).
  releaseGrads(weights, grads);
  const loss = fwd.loss!;
  return {
    crossEntropy: loss.crossEntropy,
    auxUnscaled: loss.auxUnscaledPerLayer.reduce((a, v) => a + v, 0),
    imbalance: fwd.routing.map((r) => layerImbalance(r.counts, deviceOf, numDevices, n * seqLen)),
    counts: fwd.routing.map((r) => r.counts),
  };
}

/** Held-out cross-entropy sum and token count of one micro-batch (no gradients). */
export function evalMicrobatch(weights: ModelWeights, windows: Int32Array, n: number, seqLen: number, experts?: ExpertRunner): { sum: number; count: number } {
  const fwd = modelForward(weights, windowsToBatch(windows, n, seqLen), { withGrad: false, experts });
  releaseLogits(weights, fwd);
  return { sum: fwd.loss!.crossEntropy * n * seqLen, count: n * seqLen };
}

