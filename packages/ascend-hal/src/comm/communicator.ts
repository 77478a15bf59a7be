/**
 * Collective communication between the ranks of one job (HCCL / NCCL semantics, synchronous like the
 * Backend kernels). Every rank calls the same collectives in the same order.
 *
 * Reductions are deterministic: each element is summed in rank order (0, 1, …, size−1) in float64
 * and rounded once to the array's type, whatever order the ranks arrive in, so a run is
 * reproducible bit for bit at a fixed rank count.
 */
export type CommArray = Float32Array | Float64Array | Int32Array;
export type ReduceOp = 'sum' | 'max';

export interface AllToAllResult<T extends CommArray> {
  /** What every rank sent to this one, concatenated in source-rank order. */
  data: T;
  /** recvCounts[s] = elements received from rank s. */
  recvCounts: number[];
}

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** In place: every rank ends with the element-wise reduction over ranks. Lengths must agree. */
  allReduce(data: CommArray, op?: ReduceOp): void;
  /** Every rank's `data` concatenated in rank order (lengths may differ between ranks). */
  allGather<T extends CommArray>(data: T): T;
  /** `data.length` = size × n; rank r receives the reduction over ranks of elements [r·n, (r+1)·n). */
  reduceScatter<T extends CommArray>(data: T, op?: ReduceOp): T;
  /**
   * Personalised exchange: `send` holds one segment per destination rank, in rank order, of
   * `sendCounts[d]` elements each. Returns what each source sent to this rank.
   */
  allToAllV<T extends CommArray>(send: T, sendCounts: readonly number[]): AllToAllResult<T>;
  /** Returns once every rank has called it. */
  barrier(): void;
}

/** Same-typed empty array of length n. */
export function allocLike<T extends CommArray>(like: T, n: number): T {
  return new (like.constructor as new (n: number) => T)(n);
}

/** The communicator of a job with one rank: every collective is a copy. */
export class SoloCommunicator implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  allReduce(): void {}
  allGather<T extends CommArray>(data: T): T {
    return data.slice() as T;
  }
  reduceScatter<T extends CommArray>(data: T): T {
    return data.slice() as T;
  }
  allToAllV<T extends CommArray>(send: T, sendCounts: readonly number[]): AllToAllResult<T> {
    if (sendCounts.length !== 1 || sendCounts[0] !== send.length) {
      throw new RangeError(`allToAllV: sendCounts ${JSON.stringify(sendCounts)} must be [send.length=${send.length}] with one rank`);
    }
    return { data: send.slice() as T, recvCounts: [send.length] };
  }
  barrier(): void {}
}
