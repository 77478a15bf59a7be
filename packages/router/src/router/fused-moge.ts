import { expNonPositive } from './exp-table';
import { wasmSoftmax } from './wasm/softmax-wasm';

/**
 * The MoGE forward as one pass per token on host arrays: softmax over all E experts, the K/M best
 * in every group, weight = p·scale. Used by the `moge` router on backends whose tensors already live
 * in host memory, where the generic path's five kernels (softmax, groupTopK, read, gatherRows, mul)
 * each walk [T, E] or [T, K] again; here every logit row is touched while it is in L1.
 *
 * Numerics: exp (table-driven, within a few float64 ulps of `Math.exp`) and the sum in float64, each
 * probability rounded to fp32 once, so a probability differs from the reference softmax kernel's by
 * at most one fp32 ulp, and only when its exact value sits within ~1e-15 of a rounding boundary.
 * The selection compares those fp32 probabilities with "ties → lower id" and NaN above every number,
 * like `groupTopK`; a NaN or +∞ logit makes the token's whole row NaN, which selects the first K/M
 * experts of every group, with NaN weights.
 * Where WebAssembly SIMD is available the softmax (and the K/M = 1 argmax) run in the kernels of
 * wasm/softmax-kernel.ts, with the same numerics two float64 lanes at a time, or, by default, in the
 * fp32 kernel of wasm/softmax-f32-kernel.ts (within 1e-6 relative; see `precision`).
 */

export interface MogeHostResult {
  /** [T, E] softmax probabilities. */
  probs: Float32Array;
  /** [T, K] expert ids, group-major, best-first inside a group. */
  ids: Int32Array;
  /** [T, K] probabilities at the ids. */
  values: Float32Array;
  /** [T, K] router_scale at the ids. */
  scale: Float32Array;
  /** [T, K] values · scale. */
  weights: Float32Array;
}

export interface MogeShape {
  tokens: number;
  numExperts: number;
  numGroups: number;
  topK: number;
}

export interface MogeHostOptions {
  /**
   * Use the WebAssembly SIMD softmax (and, for K/M = 1, group argmax) where the engine has it; false
   * forces the plain JS loop (float64 numerics above). Default true.
   */
  wasm?: boolean;
  /**
   * Softmax arithmetic of the WebAssembly path. 'f64' (f64x2 lanes, E even) follows the numerics
   * above and gives the reference backend's bits. 'f32' (f32x4 lanes, E a multiple of 4; see
   * wasm/softmax-f32-kernel.ts) is within 1e-6 relative of it and ~1.8× faster; ids then come from
   * those fp32 probabilities (ties → lower id), so they can differ from the reference's only where two
   * experts' probabilities are within that tolerance. Where 'f32' does not apply (E % 4 ≠ 0, no
   * WebAssembly) the float64 path runs. Default 'f32'.
   */
  precision?: 'f32' | 'f64';
  /**
   * Arrays to write the results into instead of allocating them (each of the length documented in
   * MogeHostResult): a caller routing batch after batch saves allocating and page-faulting 16 MiB of
   * probabilities per 64K tokens. An array of the wrong length is refused.
   */
  out?: Partial<MogeHostResult>;
}

function outArray<A extends Float32Array | Int32Array>(given: A | undefined, make: (n: number) => A, n: number, field: string): A {
  if (given === undefined) return make(n);
  if (given.length !== n) throw new RangeError(`mogeForwardHost: out.${field} has ${given.length} elements, expected ${n}`);
  return given;
}

export function mogeForwardHost(logits: Float32Array, routerScale: Float32Array, shape: MogeShape, options: MogeHostOptions = {}): MogeHostResult {
  const { tokens, numExperts: e, numGroups: m, topK: k } = shape;
  const g = e / m;
  const kg = k / m;
  // 1.5 tokens of E = 2 passed the length check below (3 logits) and routed half a token.
  if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError(`mogeForwardHost: tokens = ${tokens}, expected a non-negative integer`);
  if (!Number.isInteger(g) || !Number.isInteger(kg) || kg < 1 || kg > g) {
    throw new RangeError(`mogeForwardHost: E=${e}, M=${m}, K=${k} need M | E, M | K and 1 ≤ K/M ≤ E/M`);
  }
  if (logits.length !== tokens * e || routerScale.length !== e) {
    throw new RangeError(`mogeForwardHost: got ${logits.length} logits and ${routerScale.length} scales, expected ${tokens * e} and ${e}`);
  }
  const out = options.out ?? {};
  const f32 = (n: number) => new Float32Array(n);
  const probs = outArray(out.probs, f32, tokens * e, 'probs');
  const ids = outArray(out.ids, (n) => new Int32Array(n), tokens * k, 'ids');
  const values = outArray(out.values, f32, tokens * k, 'values');
  const scale = outArray(out.scale, f32, tokens * k, 'scale');
  const weights = outArray(out.weights, f32, tokens * k, 'weights');
  const wasm = options.wasm === false || e % 2 !== 0 ? null : wasmSoftmax();
  if (wasm) {
    const precision = options.precision !== 'f64' && e % 4 === 0 ? 'f32' : 'f64';
    if (kg === 1) {
      wasm.softmaxGroupArgmax(logits, probs, ids, values, tokens, e, g, precision, { routerScale, scale, weights });
      return { probs, ids, values, scale, weights };
    }
    wasm.softmaxRows(logits, probs, tokens, e, precision);
    for (let t = 0; t < tokens; t++) {
      for (let grp = 0; grp < m; grp++) selectGroup(probs, t * e + grp * g, g, kg, grp * g, ids, values, t * k + grp * kg);
    }
  } else {
    routeJs(logits, probs, ids, values, shape);
  }
  for (let i = 0; i < tokens * k; i++) {
    const s = routerScale[ids[i]!]!;
    scale[i] = s;
    weights[i] = values[i]! * s;
  }
  return { probs, ids, values, scale, weights };
}

/** Softmax and selection for every token in plain JS, one token at a time (where WebAssembly SIMD is not used). */
function routeJs(logits: Float32Array, probs: Float32Array, ids: Int32Array, values: Float32Array, shape: MogeShape): void {
  const { tokens, numExperts: e, numGroups: m, topK: k } = shape;
  const g = e / m;
  const kg = k / m;
  const exps = new Float64Array(e);
  for (let t = 0; t < tokens; t++) {
    const base = t * e;
    let max = -Infinity;
    for (let i = 0; i < e; i++) {
      const z = logits[base + i]!;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let i = 0; i < e; i++) {
      const x = expNonPositive(logits[base + i]! - max);
      exps[i] = x;
      sum += x;
    }
    // Division, not a reciprocal multiply: the same fp32 numbers as the reference softmax kernel.
    for (let i = 0; i < e; i++) probs[base + i] = exps[i]! / sum;

    const out = t * k;
    if (kg === 1) {
      // Pangu Pro's case (one expert per group): an argmax per group on the stored fp32 values,
      // ties to the lower id and NaN above every number, as in groupTopK. (Measured: a separate pass
      // is faster here than folding the argmax into the normalisation loop.) The best value is never
      // NaN inside the loop (a NaN ends the search: nothing displaces it), so `!(v <= best)` is
      // `v > best` for numbers and true for a NaN v, at the cost of `v > best`.
      for (let grp = 0; grp < m; grp++) {
        const start = base + grp * g;
        let best = 0;
        let bestValue = probs[start]!;
        if (bestValue === bestValue) {
          for (let i = 1; i < g; i++) {
            const v = probs[start + i]!;
            if (!(v <= bestValue)) {
              bestValue = v;
              best = i;
              if (v !== v) break;
            }
          }
        }
        ids[out + grp] = grp * g + best;
        values[out + grp] = bestValue;
      }
    } else {
      for (let grp = 0; grp < m; grp++) selectGroup(probs, base + grp * g, g, kg, grp * g, ids, values, out + grp * kg);
    }
  }
}

/**
 * The kg largest of probs[start, start+g) into ids/values[at, at+kg), best-first, by insertion into
 * the (short) output list; a later equal value never displaces an earlier one (ties → lower id).
 * NaN ranks above every number and NaNs keep their order (lower id first), as in groupTopK: the kept
 * NaNs sit at the front of the list, [at, at+nans), and nothing moves above them.
 */
export function selectGroup(
  probs: Float32Array,
  start: number,
  g: number,
  kg: number,
  firstId: number,
  ids: Int32Array,
  values: Float32Array,
  at: number,
): void {
  let filled = 0;
  let nans = 0;
  for (let i = 0; i < g; i++) {
    const v = probs[start + i]!;
    // The common rejection costs one comparison, as before; a NaN v (or a full list whose last entry
    // is NaN) falls through, and is dropped below when the list already holds kg NaNs.
    if (filled === kg && v <= values[at + kg - 1]!) continue;
    if (nans === kg) continue;
    let pos = filled < kg ? filled++ : kg - 1;
    while (pos > nans && !(v <= values[at + pos - 1]!)) {
      values[at + pos] = values[at + pos - 1]!;
      ids[at + pos] = ids[at + pos - 1]!;
      pos--;
    }
    values[at + pos] = v;
    ids[at + pos] = firstId + i;
    if (v !== v) nans++;
  }
}
