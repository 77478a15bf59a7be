/**
 * The bookkeeping of one MoE layer's expert-parallel exchange, pure (no communication), so it can be
 * property-tested on its own.
 *
 * Sender side: a rank's rows are sorted by expert and owners hold contiguous expert blocks, so the
 * rows for rank d are the contiguous segment [offsets[d·El], offsets[(d+1)·El]) — `sendRows[d]` of them.
 *
 * Receiver side: an owner receives, in source-rank order, each source's rows for its El local experts
 * (each source's rows already in expert order). The grouped matmul wants them expert-major, so
 * `expertMajor[i]` names the received row that goes to expert-major position i (source order kept
 * inside an expert, which keeps the float sums deterministic). Results go back through the inverse.
 */
export interface SendPlan {
  /** Rows to each destination rank. */
  sendRows: number[];
}

export interface ReceivePlan {
  /** Rows received from each source rank (= rows to return to it). */
  rowsFromSource: number[];
  /** Expert-major position i takes received row expertMajor[i]. */
  expertMajor: Int32Array;
  /** El+1 segment boundaries of the local experts in expert-major order. */
  localOffsets: Int32Array;
}

export function planSend(offsets: Int32Array, numRanks: number, perRank: number): SendPlan {
  if (offsets.length !== numRanks * perRank + 1) throw new RangeError(`offsets has ${offsets.length} entries, expected ${numRanks * perRank + 1}`);
  return { sendRows: Array.from({ length: numRanks }, (_, d) => offsets[(d + 1) * perRank]! - offsets[d * perRank]!) };
}

/** `recvCounts` is source-major: recvCounts[s·El + j] = rows source s sends for local expert j. */
export function planReceive(recvCounts: Int32Array, numRanks: number, perRank: number): ReceivePlan {
  if (recvCounts.length !== numRanks * perRank) throw new RangeError(`recvCounts has ${recvCounts.length} entries, expected ${numRanks * perRank}`);
  const rowsFromSource = new Array<number>(numRanks).fill(0);
  // Start of (source s, expert j)'s rows in the received (source-major) buffer.
  const srcStart = new Int32Array(numRanks * perRank);
  let at = 0;
  for (let s = 0; s < numRanks; s++) {
    for (let j = 0; j < perRank; j++) {
      srcStart[s * perRank + j] = at;
      at += recvCounts[s * perRank + j]!;
      rowsFromSource[s]! += recvCounts[s * perRank + j]!;
    }
  }
  const expertMajor = new Int32Array(at);
  const localOffsets = new Int32Array(perRank + 1);
  let pos = 0;
  for (let j = 0; j < perRank; j++) {
    for (let s = 0; s < numRanks; s++) {
      const n = recvCounts[s * perRank + j]!;
      const start = srcStart[s * perRank + j]!;
      for (let i = 0; i < n; i++) expertMajor[pos++] = start + i;
    }
    localOffsets[j + 1] = pos;
  }
  return { rowsFromSource, expertMajor, localOffsets };
}

/** out[i] = rows[index[i]] for rows of `width` floats. */
export function gatherHostRows(rows: Float32Array, index: Int32Array, width: number): Float32Array {
  const out = new Float32Array(index.length * width);
  for (let i = 0; i < index.length; i++) out.set(rows.subarray(index[i]! * width, (index[i]! + 1) * width), i * width);
  return out;
}

/** out[index[i]] = rows[i]: the inverse of `gatherHostRows` for a permutation `index`. */
export function scatterHostRows(rows: Float32Array, index: Int32Array, width: number): Float32Array {
  const out = new Float32Array(index.length * width);
  for (let i = 0; i < index.length; i++) out.set(rows.subarray(i * width, (i + 1) * width), index[i]! * width);
  return out;
}
