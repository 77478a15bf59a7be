import type { Backend, Tensor } from '@moge/ascend-hal';
import type { MoeArch } from '@moge/core';
import { addInto } from './accumulate';
import { linearBackward, linearForward } from './linear';

/**
 * Causal grouped-query attention with RoPE (rotate-half) and biases on q/k/v/o, over a batch of B
 * sequences of S new tokens each, optionally after L cached positions.
 *
 * Layout trick for GQA: query head h uses KV head h / rep (rep = H / KV, HF `repeat_kv`). Queries are
 * arranged [B·KV, rep·S, D] so that one batched matmul against keys [B·KV, L+S, D] scores every
 * query head of a KV group at once — the KV heads are never copied rep times, and in backward the
 * rep heads' contributions to dK and dV are summed by the same matmul.
 */
export interface AttentionWeights {
  q: Tensor; // [H·D, h]
  k: Tensor; // [KV·D, h]
  v: Tensor; // [KV·D, h]
  o: Tensor; // [h, H·D]
  qBias?: Tensor;
  kBias?: Tensor;
  vBias?: Tensor;
  oBias?: Tensor;
}

/**
 * Keys and values of the positions seen so far, per (sequence, KV head): [B·KV, C·D] each, of which
 * the first `length` positions of every row are filled (C = `length` when it is absent). Spare
 * capacity lets a decode step write its keys in place (Backend.writeColumns) instead of re-copying
 * the whole cache; unfilled slots hold zeros, which is what makes attending over them harmless.
 */
export interface KvPair {
  k: Tensor;
  v: Tensor;
  length?: number;
}

/** Capacity grows in steps of this many positions: at most this many wasted key columns per step. */
export const KV_CAPACITY_STEP = 32;

export interface AttentionDims {
  batch: number;
  /** New tokens per sequence. */
  seqLen: number;
  /** Cached positions per sequence before these tokens. */
  pastLen: number;
}

export interface AttentionSaved {
  x: Tensor;
  q3: Tensor; // [B·KV, rep·S, D], rotated and scaled by 1/√D
  k3: Tensor; // [B·KV, L+S, D], rotated
  v3: Tensor; // [B·KV, L+S, D]
  probs: Tensor; // [B·KV, rep·S, L+S]
  ctx: Tensor; // [T, H·D]
}

export interface AttentionForward {
  y: Tensor;
  saved: AttentionSaved;
  /** Keys and values including these tokens: the cache for the next decode step. */
  present: KvPair;
}

/**
 * Views `x` as `shape`, permutes its axes by `perm` and views the result as `out`. When the
 * permutation only moves axes of size 1 (one new token per sequence while decoding), the data is
 * already in the permuted order and no copy is made.
 */
function permute(b: Backend, x: Tensor, shape: number[], perm: number[], out: number[]): Tensor {
  const moved = perm.filter((axis) => shape[axis]! > 1);
  const kept = moved.every((axis, i) => i === 0 || moved[i - 1]! < axis);
  return b.reshape(kept ? x : b.transpose(b.reshape(x, shape), perm), out);
}

function sizes(arch: MoeArch, d: AttentionDims) {
  const rep = arch.numHeads / arch.numKvHeads;
  return { b: d.batch, s: d.seqLen, kv: arch.numKvHeads, rep, hd: arch.headDim, sk: d.pastLen + d.seqLen, t: d.batch * d.seqLen };
}

export function attentionForward(
  b: Backend,
  arch: MoeArch,
  w: AttentionWeights,
  x: Tensor,
  positions: Int32Array,
  dims: AttentionDims,
  past?: KvPair,
): AttentionForward {
  const { b: nb, s, kv, rep, hd, sk, t } = sizes(arch, dims);
  const q = b.rope(b.reshape(linearForward(b, x, w.q, w.qBias), [t, kv * rep, hd]), positions, arch.ropeTheta);
  const k = b.rope(b.reshape(linearForward(b, x, w.k, w.kBias), [t, kv, hd]), positions, arch.ropeTheta);
  const v = linearForward(b, x, w.v, w.vBias);

  // Scale q rather than the [.., S, L+S] scores: fewer elements, same result.
  const qScaled = b.affine(q, 1 / Math.sqrt(hd));
  const q3 = permute(b, qScaled, [nb, s, kv, rep, hd], [0, 2, 3, 1, 4], [nb * kv, rep * s, hd]);
  const kNew = permute(b, k, [nb, s, kv, hd], [0, 2, 1, 3], [nb * kv, s * hd]);
  const vNew = permute(b, v, [nb, s, kv, hd], [0, 2, 1, 3], [nb * kv, s * hd]);
  const present: KvPair = past ? appendToCache(b, past, kNew, vNew, dims.pastLen, hd) : { k: kNew, v: vNew };
  // C ≥ L+S positions: the keys and values live in a buffer with spare capacity once decoding.
  const cap = present.k.shape[1]! / hd;
  const k3 = b.reshape(present.k, [nb * kv, cap, hd]);
  const v3 = b.reshape(present.v, [nb * kv, cap, hd]);

  // Rows of one (sequence, KV head) block are rep query heads of S rows each: the causal softmax
  // sees them as rep separate [S, L+S] blocks. Over a buffer with spare capacity, the scores of the
  // unfilled slots are cut off before the softmax, and the probabilities padded back with zeros so
  // that one matmul reads the values in place (a zero weight on a zero value adds exactly 0).
  const scoresCap = b.matmul(q3, k3, { transB: true });
  const scores = cap === sk ? scoresCap : b.sliceColumns(scoresCap, 0, sk);
  const probs = b.reshape(b.softmax(b.reshape(scores, [nb * kv * rep, s, sk]), { causal: true }), [nb * kv, rep * s, sk]);
  const probsCap = cap === sk ? probs : b.concatColumns([probs, b.zeros([nb * kv, rep * s, cap - sk])]);
  const out3 = b.matmul(probsCap, v3);
  const ctx = permute(b, out3, [nb, kv, rep, s, hd], [0, 3, 1, 2, 4], [t, kv * rep * hd]);
  const y = linearForward(b, ctx, w.o, w.oBias);
  return { y, saved: { x, q3, k3, v3, probs: probsCap, ctx }, present };
}

/**
 * The cache after appending S new positions to the L held by `past`. With Backend.writeColumns the
 * new keys and values are written in place while capacity lasts; when it runs out (and at the first
 * decode step after a prefill, whose cache has none) they move to a buffer of L+S positions rounded
 * up to KV_CAPACITY_STEP. Without writeColumns, it is one concatenation per step.
 * Writing in place means an older KvPair of the same cache sees the new slots filled too: a cache
 * is advanced, never forked.
 */
function appendToCache(b: Backend, past: KvPair, kNew: Tensor, vNew: Tensor, pastLen: number, hd: number): KvPair {
  const newLen = pastLen + kNew.shape[1]! / hd;
  if (!b.writeColumns) return { k: b.concatColumns([past.k, kNew]), v: b.concatColumns([past.v, vNew]) };
  const rows = past.k.shape[0]!;
  let { k, v } = past;
  if (k.shape[1]! < newLen * hd) {
    const capCols = Math.ceil(newLen / KV_CAPACITY_STEP) * KV_CAPACITY_STEP * hd;
    const held = pastLen * hd;
    k = b.zeros([rows, capCols]);
    v = b.zeros([rows, capCols]);
    b.writeColumns(k, past.k.shape[1] === held ? past.k : b.sliceColumns(past.k, 0, held), 0);
    b.writeColumns(v, past.v.shape[1] === held ? past.v : b.sliceColumns(past.v, 0, held), 0);
  }
  b.writeColumns(k, kNew, pastLen * hd);
  b.writeColumns(v, vNew, pastLen * hd);
  return { k, v, length: newLen };
}

export interface AttentionGrads {
  dx: Tensor;
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  do: Tensor;
  dqBias?: Tensor;
  dkBias?: Tensor;
  dvBias?: Tensor;
  doBias?: Tensor;
}

/** Backward of a forward without a cache (training). */
export function attentionBackward(
  b: Backend,
  arch: MoeArch,
  w: AttentionWeights,
  saved: AttentionSaved,
  positions: Int32Array,
  dims: AttentionDims,
  dy: Tensor,
): AttentionGrads {
  const { b: nb, s, kv, rep, hd, t } = sizes(arch, dims);
  const bias = arch.attentionBias;
  const o = linearBackward(b, saved.ctx, w.o, dy, bias);
  const dOut3 = permute(b, o.dx, [nb, s, kv, rep, hd], [0, 2, 3, 1, 4], [nb * kv, rep * s, hd]);

  const dProbs = b.matmul(dOut3, saved.v3, { transB: true });
  const dV3 = b.matmul(saved.probs, dOut3, { transA: true });
  const dScores = b.softmaxBackward(saved.probs, dProbs); // masked entries have p = 0, so their gradient is 0
  const dQ3 = b.matmul(dScores, saved.k3);
  const dK3 = b.matmul(dScores, saved.q3, { transA: true });

  const dqRot = b.affine(permute(b, dQ3, [nb, kv, rep, s, hd], [0, 3, 1, 2, 4], [t, kv * rep, hd]), 1 / Math.sqrt(hd));
  const dq = b.reshape(b.rope(dqRot, positions, arch.ropeTheta, { inverse: true }), [t, kv * rep * hd]);
  const dkRot = permute(b, dK3, [nb, kv, s, hd], [0, 2, 1, 3], [t, kv, hd]);
  const dk = b.reshape(b.rope(dkRot, positions, arch.ropeTheta, { inverse: true }), [t, kv * hd]);
  const dv = permute(b, dV3, [nb, kv, s, hd], [0, 2, 1, 3], [t, kv * hd]);

  const gq = linearBackward(b, saved.x, w.q, dq, bias);
  const gk = linearBackward(b, saved.x, w.k, dk, bias);
  const gv = linearBackward(b, saved.x, w.v, dv, bias);
  const dx = addInto(b, addInto(b, gq.dx, gk.dx), gv.dx);
  return {
    dx,
    dq: gq.dWeight,
    dk: gk.dWeight,
    dv: gv.dWeight,
    do: o.dWeight,
    dqBias: gq.dBias,
    dkBias: gk.dBias,
    dvBias: gv.dBias,
    doBias: o.dBias,
  };
}
