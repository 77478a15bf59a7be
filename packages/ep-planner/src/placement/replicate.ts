import { IndexHeap } from './index-heap';

/** Replicas chosen for a set of logical experts. */
export interface Replication {
  /** physicalToLogical[p] = logical expert that physical expert p serves (the first n are 0..n-1). */
  physicalToLogical: Int32Array;
  /** replicaCounts[e] = number of physical copies of logical expert e (≥ 1). */
  replicaCounts: Int32Array;
}

/**
 * Grows `weights.length` logical experts to `numPhysical` physical experts by giving each extra slot
 * to the expert whose load per replica is highest at that moment (the `replicate_experts` of
 * DeepSeek EPLB). Load is assumed to split evenly over an expert's replicas, which is how dispatch
 * spreads tokens (see `chooseReplica`). Ties go to the lower expert id.
 *
 * O((P − n) log n) with a max-heap keyed by load / replicas.
 */
export function replicateExperts(weights: ArrayLike<number>, numPhysical: number): Replication {
  const n = weights.length;
  if (!Number.isInteger(numPhysical) || numPhysical < n) {
    throw new RangeError(`replicateExperts: numPhysical must be an integer ≥ the ${n} logical experts, got ${numPhysical}`);
  }
  const physicalToLogical = new Int32Array(numPhysical);
  const replicaCounts = new Int32Array(n).fill(1);
  for (let e = 0; e < n; e++) physicalToLogical[e] = e;
  if (numPhysical === n) return { physicalToLogical, replicaCounts };
  const hottest = new IndexHeap(n, 'max');
  for (let e = 0; e < n; e++) hottest.push(e, weights[e]!);
  for (let p = n; p < numPhysical; p++) {
    const e = hottest.peek();
    physicalToLogical[p] = e;
    replicaCounts[e]!++;
    hottest.replaceTopKey(weights[e]! / replicaCounts[e]!);
  }
  return { physicalToLogical, replicaCounts };
}

/**
 * Naive replication for the greedy baseline: extra slots go round-robin down the list of experts
 * sorted by load (the hottest gets the first extra copy, the next hottest the second, …), without
 * re-evaluating load per replica as `replicateExperts` does.
 */
export function replicateHottestRoundRobin(weights: ArrayLike<number>, order: Int32Array, numPhysical: number): Replication {
  const n = weights.length;
  if (!Number.isInteger(numPhysical) || numPhysical < n) {
    throw new RangeError(`replicateHottestRoundRobin: numPhysical must be an integer ≥ the ${n} logical experts, got ${numPhysical}`);
  }
  const physicalToLogical = new Int32Array(numPhysical);
  const replicaCounts = new Int32Array(n).fill(1);
  for (let e = 0; e < n; e++) physicalToLogical[e] = e;
  for (let p = n; p < numPhysical; p++) {
    const e = order[(p - n) % n]!;
    physicalToLogical[p] = e;
    replicaCounts[e]!++;
  }
  return { physicalToLogical, replicaCounts };
}
