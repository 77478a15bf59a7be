/**
 * Float64 host implementations of the routing rules, written as plainly as possible, for tests to
 * compare the backend routers against. Not exported from the package.
 */
import { Rng } from '@moge/core';
import type { RouterConfig } from '../router/config';

export function softmaxRows(z: ArrayLike<number>, tokens: number, e: number): Float64Array {
  const p = new Float64Array(tokens * e);
  for (let t = 0; t < tokens; t++) {
    let m = -Infinity;
    for (let i = 0; i < e; i++) m = Math.max(m, z[t * e + i]!);
    let s = 0;
    for (let i = 0; i < e; i++) s += Math.exp(z[t * e + i]! - m);
    for (let i = 0; i < e; i++) p[t * e + i] = Math.exp(z[t * e + i]! - m) / s;
  }
  return p;
}

export function scoreRows(z: ArrayLike<number>, tokens: number, e: number, scoring: RouterConfig['scoring']): Float64Array {
  if (scoring === 'softmax') return softmaxRows(z, tokens, e);
  return Float64Array.from(z, (x) => 1 / (1 + Math.exp(-x)));
}

/**
 * a before b? torch.topk's order of values — NaN above every number (+∞ included) — with equal keys
 * (NaN and NaN, +0 and −0) left to the caller's index tie-break, as torch.sort(stable=True) does.
 */
export function torchOrder(a: number, b: number): number {
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? -1 : 1;
  return a > b ? -1 : a < b ? 1 : 0;
}

/** Indices of `ids` sorted best-first by score (NaN first), ties → lower id. */
export function bestFirst(scores: ArrayLike<number>, ids: number[]): number[] {
  return [...ids].sort((a, b) => torchOrder(scores[a]!, scores[b]!) || a - b);
}

/** The selection rule of each built-in router, on one token's scores (as the backend stored them). */
export function selectOracle(kind: string, row: ArrayLike<number>, c: RouterConfig): number[] {
  const e = c.numExperts;
  const g = e / c.numGroups;
  const range = (lo: number, n: number) => Array.from({ length: n }, (_, i) => lo + i);
  if (kind === 'moge') {
    const kg = c.topK / c.numGroups;
    return range(0, c.numGroups).flatMap((grp) => bestFirst(row, range(grp * g, g)).slice(0, kg));
  }
  if (kind === 'topk') return bestFirst(row, range(0, e)).slice(0, c.topK);
  if (kind === 'group-limited') {
    const groupScore = range(0, c.numGroups).map((grp) => {
      const top = bestFirst(row, range(grp * g, g)).slice(0, Math.min(2, g));
      return Math.fround(top.reduce((a, i) => a + row[i]!, 0)); // the backend stores group scores in fp32
    });
    const kept = bestFirst(groupScore, range(0, c.numGroups)).slice(0, c.topGroups);
    return bestFirst(row, kept.flatMap((grp) => range(grp * g, g))).slice(0, c.topK);
  }
  throw new Error(`no oracle for router '${kind}'`);
}

/** weight_tj = gate_tj · s[id]; gate = v or v/Σv. Float64. */
export function weightsOracle(
  scores: ArrayLike<number>,
  scale: ArrayLike<number>,
  ids: ArrayLike<number>,
  tokens: number,
  c: RouterConfig,
): Float64Array {
  const { numExperts: e, topK: k } = c;
  const w = new Float64Array(tokens * k);
  for (let t = 0; t < tokens; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += scores[t * e + ids[t * k + j]!]!;
    for (let j = 0; j < k; j++) {
      const v = scores[t * e + ids[t * k + j]!]!;
      w[t * k + j] = (c.renormalize ? v / sum : v) * scale[ids[t * k + j]!]!;
    }
  }
  return w;
}

/** f32 normal logits of a given spread, from a seed. */
export function randomLogits(seed: number, size: number, std = 2): Float32Array {
  const out = new Float32Array(size);
  new Rng(seed).fillNormal(out, std);
  return out;
}

/** f32 router scales in [0.5, 1.5). */
export function randomScale(seed: number, e: number): Float32Array {
  const rng = new Rng(seed ^ 0x5ca1e);
  return Float32Array.from({ length: e }, () => 0.5 + rng.float());
}

export function relClose(a: number, b: number, rel: number, abs = 0): boolean {
  return Math.abs(a - b) <= abs + rel * Math.abs(b);
}
