import type { GroupTopKResult } from '../backend';
import { CpuTensor, describeShape, shapeError } from '../cpu/cpu-tensor';

/**
 * Per-group top-k (the MoGE selection): scores [T, E], E = groups · groupSize; in every group keep the
 * kPerGroup largest, ties resolved towards the lower expert index. Output is group-major, best-first.
 * k is small (1–4 in Pangu Pro MoE), so an insertion into a k-long sorted list beats sorting the group.
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
      for (let j = 0; j < groupSize; j++) {
        const id = g * groupSize + j;
        const v = s[tok * e + id]!;
        // Strictly greater only: an equal later score never displaces an earlier (lower) index.
        let pos = filled;
        while (pos > 0 && v > values[outBase + pos - 1]!) pos--;
        if (pos >= kPerGroup) continue;
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
