import type { Backend, Tensor } from '@moge/ascend-hal';
import { groupSize, type RouterConfig } from './config';

/** Which experts a token goes to, and their scores (the non-differentiable half of a router). */
export interface Selection {
  /** [T, K] i32 on the backend. */
  ids: Tensor;
  /** Host copy of `ids` (owned by the caller; the backend's storage is never exposed). */
  idsHost: Int32Array;
  /** [T, K] scores at the selected ids. */
  values: Tensor;
}

function withHostIds(backend: Backend, ids: Tensor, values: Tensor): Selection {
  return { ids, idsHost: Int32Array.from(backend.read(ids)), values };
}

// Every selection below is `groupTopK`'s: ties → lower id, and NaN ranks above every number (torch.topk's
// order; NaNs among themselves → lower id), so a NaN score is selected and reaches the weights and the loss.

/** MoGE: the K/M best scores in every one of the M groups; ids group-major, best-first in a group. */
export function selectMoge(backend: Backend, scores: Tensor, c: RouterConfig): Selection {
  const { ids, values } = backend.groupTopK(scores, c.numGroups, c.topK / c.numGroups);
  return withHostIds(backend, ids, values);
}

/** Plain top-k over all experts, best-first (ties → lower id). */
export function selectTopK(backend: Backend, scores: Tensor, c: RouterConfig): Selection {
  const { ids, values } = backend.groupTopK(scores, 1, c.topK);
  return withHostIds(backend, ids, values);
}

/**
 * Group-limited top-k (DeepSeek-V3 `noaux_tc` selection without the bias term): a group's score is
 * the sum of its two best expert scores (its best one if a group has a single expert); keep the
 * `topGroups` best groups (ties → lower group index); take the top-k experts inside them, best-first
 * (ties → lower expert id). A NaN score makes its group's score NaN, which ranks first, and is then
 * selected inside it.
 */
export function selectGroupLimited(backend: Backend, scores: Tensor, c: RouterConfig): Selection {
  const tokens = scores.shape[0]!;
  const m = c.numGroups;
  const g = groupSize(c);
  const keep = c.topGroups ?? m;
  const perGroup = Math.min(2, g);

  const best = backend.groupTopK(scores, m, perGroup).values; // [T, M·perGroup]
  const groupScores = backend.sum(backend.reshape(best, [tokens, m, perGroup]), -1); // [T, M]
  const keptGroups = Int32Array.from(backend.read(backend.groupTopK(groupScores, 1, keep).ids));

  // Sort each token's kept groups by index, so that position inside the gathered block increases
  // with the expert id and groupTopK's "ties → lower index" rule means "ties → lower expert id".
  const rowIndex = new Int32Array(tokens * keep);
  for (let t = 0; t < tokens; t++) {
    const row = keptGroups.subarray(t * keep, (t + 1) * keep).sort();
    for (let j = 0; j < keep; j++) rowIndex[t * keep + j] = t * m + row[j]!;
  }
  const blocks = backend.gatherRows(backend.reshape(scores, [tokens * m, g]), rowIndex); // [T·keep, g]
  const local = backend.groupTopK(backend.reshape(blocks, [tokens, keep * g]), 1, c.topK);

  const localIds = backend.read(local.ids);
  const idsHost = new Int32Array(tokens * c.topK);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < c.topK; j++) {
      const l = localIds[t * c.topK + j]!;
      const group = keptGroups[t * keep + Math.floor(l / g)]!;
      idsHost[t * c.topK + j] = group * g + (l % g);
    }
  }
  return { ids: backend.fromArray(idsHost.slice(), [tokens, c.topK], 'i32'), idsHost, values: local.values };
}
