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
 * `maxReplicas` (the ranks the replicas will be packed onto) caps an expert's copies: a copy beyond one
 * per rank shares a rank with another, so EPLB's uncapped rule can leave the hot expert's ranks
 * heavier than spending the slot elsewhere would. It can also do better (the rank holding two copies
 * then takes less of the rest), so the eplb policies pack both and keep the more balanced. The cap
 * gives way only when every expert has reached it.
 *
 * O((P − n) log n) with a max-heap keyed by load / replicas.
 */
export function replicateExperts(weights: ArrayLike<number>, numPhysical: number, maxReplicas = Infinity): Replication {
  const n = weights.length;
  if (!Number.isInteger(numPhysical) || numPhysical < n) {
    throw new RangeError(`replicateExperts: numPhysical must be an integer ≥ the ${n} logical experts, got ${numPhysical}`);
  }
  if (!(maxReplicas >= 1)) throw new RangeError(`replicateExperts: maxReplicas must be ≥ 1, got ${maxReplicas}`);
  const out: Replication = { physicalToLogical: new Int32Array(numPhysical), replicaCounts: new Int32Array(n) };
  replicateInto(out, weights, maxReplicas, new IndexHeap(n, 'max'));
  return out;
}

/**
 * replicateExperts into `out` (physicalToLogical of numPhysical entries, replicaCounts of
 * weights.length), with `hottest`, a max-heap of capacity ≥ weights.length, as working space; so a
 * caller placing many layers reuses its arrays. Arguments are the caller's to check.
 */
export function replicateInto(out: Replication, weights: ArrayLike<number>, maxReplicas: number, hottest: IndexHeap): void {
  const n = weights.length;
  const { physicalToLogical, replicaCounts } = out;
  const numPhysical = physicalToLogical.length;
  replicaCounts.fill(1);
  for (let e = 0; e < n; e++) physicalToLogical[e] = e;
  if (numPhysical === n) return;
  hottest.clear();
  let cap = maxReplicas;
  const fill = () => {
    for (let e = 0; e < n; e++) if (replicaCounts[e]! < cap) hottest.push(e, weights[e]! / replicaCounts[e]!);
  };
  fill();
  for (let p = n; p < numPhysical; p++) {
    if (hottest.length === 0) {
      cap = Infinity;
      fill();
    }
    const e = hottest.peek();
    physicalToLogical[p] = e;
    replicaCounts[e]!++;
    if (replicaCounts[e]! >= cap) hottest.pop();
    else hottest.replaceTopKey(weights[e]! / replicaCounts[e]!);
  }
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
