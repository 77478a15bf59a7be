/**
 * Token → expert dispatch plan. A router picks K experts for each of T tokens: T·K assignments,
 * numbered a = t·K + j in token order. Sorting them by expert (a counting sort, stable, so tokens keep
 * their order inside an expert) makes every expert's rows one contiguous segment of a [T·K, h] block,
 * which a single grouped matmul processes — no per-token or per-expert loop over the model's math.
 */
export interface DispatchPlan {
  /** sorted position i holds assignment order[i]. */
  order: Int32Array;
  /** Token of sorted position i (`order[i] / K`): the rows to gather from the token block. */
  tokenOfSorted: Int32Array;
  /** Sorted position of assignment a (inverse of `order`): the rows to gather back into token order. */
  positionOf: Int32Array;
  /** E+1 segment boundaries: expert e owns sorted rows [offsets[e], offsets[e+1]). */
  offsets: Int32Array;
  /** Assignments per expert. */
  counts: Int32Array;
}

export function planDispatch(expertIds: ArrayLike<number>, numExperts: number, topK: number): DispatchPlan {
  const n = expertIds.length;
  const counts = new Int32Array(numExperts);
  for (let a = 0; a < n; a++) {
    const e = expertIds[a]!;
    // Integers only: a fractional id passed the range check but indexes no Int32Array slot, so its
    // assignment was silently dropped from counts/offsets and left at position 0.
    if (!(Number.isInteger(e) && e >= 0 && e < numExperts)) throw new RangeError(`expert id at assignment ${a}: got ${e}, expected an integer in [0, ${numExperts})`);
    counts[e]!++;
  }
  const offsets = new Int32Array(numExperts + 1);
  for (let e = 0; e < numExperts; e++) offsets[e + 1] = offsets[e]! + counts[e]!;
  const next = offsets.slice(0, numExperts);
  const order = new Int32Array(n);
  const positionOf = new Int32Array(n);
  const tokenOfSorted = new Int32Array(n);
  for (let a = 0; a < n; a++) {
    const pos = next[expertIds[a]!]!++;
    order[pos] = a;
    positionOf[a] = pos;
    tokenOfSorted[pos] = Math.floor(a / topK);
  }
  return { order, tokenOfSorted, positionOf, offsets, counts };
}
