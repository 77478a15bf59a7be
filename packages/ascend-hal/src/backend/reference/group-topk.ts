import type { GroupTopKResult } from '../backend';
import { CpuTensor, describeShape, shapeError } from '../cpu/cpu-tensor';

/**
 * Per-group top-k (the MoGE selection): scores [T, E], E = groups · groupSize; in every group keep the
 * kPerGroup largest, ties resolved towards the lower expert index. Output is group-major, best-first.
 * k is small (1–4 in Pangu Pro MoE), so an insertion into a k-long sorted list beats sorting the group.
 *
 * Non-finite scores follow `torch.topk` / `torch.sort(descending=True, stable=True)`: NaN ranks above
 * every number (+∞ included), NaNs among themselves by the lower index; +∞ is the largest number and
 * −∞ the smallest. A NaN score (a diverged router) is therefore selected and its NaN reaches the gate
 * weight, the layer output and the loss, where the trainer's divergence check stops the run — a
 * plain `v > x` would skip it (every comparison with NaN is false) and route on as if nothing happened.
 */
export function groupTopK(scores: CpuTensor, groups: number, kPerGroup: number): GroupTopKResult & { ids: CpuTensor; values: CpuTensor } {
  if (scores.shape.length !== 2) throw shapeError('groupTopK', `scores must be [T, E], got ${describeShape(scores.shape)}`);
  const [t, e] = scores.shape as [number, number];
  if (!Number.isInteger(groups) || groups < 1 || e % groups !== 0) {
    throw shapeError('groupTopK', `${e} experts cannot be split into ${groups} equal groups`);
  }
  const groupSize = e / groups;
  if (!Number.isInteger(kPerGroup) || kPerGroup < 0 || kPerGroup > groupSize) {
    throw shapeError('groupTopK', `kPerGroup ${kPerGroup} must be in [0, ${groupSize}]`);
  }
  const s = scores.f32('groupTopK');
  const k = groups * kPerGroup;
  const ids = new Int32Array(t * k);
  const values = new Float32Array(t * k);
  for (let tok = 0; tok < t; tok++) {
    for (let g = 0; g < groups; g++) {
      const outBase = tok * k + g * kPerGroup;
      let filled = 0;
      // The kept NaNs sit at the front of the list, [0, nans): nothing moves above them.
      let nans = 0;
      for (let j = 0; j < groupSize; j++) {
        const id = g * groupSize + j;
        const v = s[tok * e + id]!;
        // `!(v <= x)` is `v > x` for numbers (an equal later score never displaces an earlier, lower
        // index) and true for a NaN v, which so climbs to just below the NaNs already kept. For a
        // number it costs what `v > x` costs: no extra test on the common, rejected path.
        let pos = filled;
        while (pos > nans && !(v <= values[outBase + pos - 1]!)) pos--;
        if (pos >= kPerGroup) continue;
        if (v !== v) nans++;
        const end = Math.min(filled, kPerGroup - 1);
        for (let q = end; q > pos; q--) {
          values[outBase + q] = values[outBase + q - 1]!;
          ids[outBase + q] = ids[outBase + q - 1]!;
        }
        values[outBase + pos] = v;
        ids[outBase + pos] = id;
        if (filled < kPerGroup) filled++;
      }
    }
  }
  return {
    ids: new CpuTensor(scores.backend, 'i32', [t, k], ids),
    values: new CpuTensor(scores.backend, 'f32', [t, k], values),
  };
}
